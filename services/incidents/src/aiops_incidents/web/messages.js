// The one aria-live region where results of actions and errors appear ("data-testid=message").
//
// Screen readers announce what is put here; a word ("Error", "Done") leads each message so
// that its meaning never rests on colour alone.

let region = null;
let clearTimer = null;

export function attachMessageRegion(element) {
  region = element;
}

/** kind: "ok" | "error" | "info". Errors stay until replaced; other messages fade after 15 s. */
export function say(text, kind = "info") {
  if (!region) return;
  window.clearTimeout(clearTimer);
  const label = { ok: "Done", error: "Error", info: "Note" }[kind] || "Note";
  const paragraph = document.createElement("p");
  paragraph.className = `message message-${kind}`;
  const strong = document.createElement("strong");
  strong.textContent = `${label}: `;
  paragraph.append(strong, document.createTextNode(text));
  region.replaceChildren(paragraph);
  if (kind !== "error") clearTimer = window.setTimeout(() => region.replaceChildren(), 15000);
}

export function clearMessage() {
  window.clearTimeout(clearTimer);
  if (region) region.replaceChildren();
}
