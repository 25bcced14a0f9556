// Building DOM from data without ever parsing markup.
//
// Service names, operations, error messages, comments and titles come from outside the
// platform. Everything here goes through createElement, setAttribute and text nodes, so a
// comment like "<b>hi</b>" is shown as those characters and never becomes an element.

const SVG_NS = "http://www.w3.org/2000/svg";

function setAttributes(element, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "value" && "value" in element && !(element instanceof SVGElement)) {
      // A property, not the attribute: the attribute is only the default of inputs and
      // does nothing at all for a <textarea>.
      element.value = String(value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
}

function appendChildren(element, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) {
      appendChildren(element, child);
    } else if (child instanceof Node) {
      element.append(child);
    } else {
      element.append(document.createTextNode(String(child)));
    }
  }
}

/** An HTML element: h("a", {href: "#/x", class: "link"}, "text", otherNode, [more]). */
export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  setAttributes(element, attrs);
  appendChildren(element, children);
  return element;
}

/** An SVG element, same calling convention as h(). */
export function svg(tag, attrs, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  setAttributes(element, attrs);
  appendChildren(element, children);
  return element;
}

/** Replaces the children of `element` (text and nodes, never markup). */
export function fill(element, ...children) {
  element.replaceChildren();
  appendChildren(element, children);
  return element;
}

/**
 * A number safe for an SVG attribute. Chromium logs a console error for NaN or a negative
 * width, and the browser test fails on any console error, so every computed coordinate goes
 * through here.
 */
export function px(value, { min = -1e6 } = {}) {
  const number = Number(value);
  if (!Number.isFinite(number)) return Math.max(0, min);
  return Math.round(Math.max(min, Math.min(1e6, number)) * 10) / 10;
}

/** A link to a hash route built from data: each path part is encoded. */
export function routeHref(...parts) {
  return "#/" + parts.map((part) => encodeURIComponent(String(part))).join("/");
}
