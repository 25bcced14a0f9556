"""The error logs of a root-cause candidate, as evidence: its service's error-level records of
the fault's window grouped by message template ("card <*> declined by <*>"), with counts, those
logged inside the candidate's exemplar traces first.

A template is the message with what varies from one record to the next (numbers, ids, hex,
addresses, quoted values) replaced by `<*>`, so that a thousand "order 8812 failed" read as one
line with a count.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from aiops_incidents.schemas import LogTemplateCount

# Most templates an evidence shows, and the trace ids kept with each.
MAX_TEMPLATES = 5
MAX_TRACE_IDS = 3
_MAX_TEMPLATE = 200
_VARIABLE = re.compile(
    r"""
      "[^"]*" | '[^']*'                                                  # quoted values
    | \b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b    # UUIDs
    | \b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b                                # IPv4 addresses
    | \b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b                                     # hex ids
    | [-+]?\b\d+(?:[.,]\d+)*\b                                            # numbers
    """,
    re.IGNORECASE | re.VERBOSE,
)
_SPACES = re.compile(r"\s+")


def template_of(body: str) -> str:
    """The message with its variable parts as `<*>`, its first line only."""
    first_line = body.strip().split("\n", 1)[0]
    return _SPACES.sub(" ", _VARIABLE.sub("<*>", first_line))[:_MAX_TEMPLATE]


@dataclass(frozen=True)
class ErrorLog:
    time: datetime
    body: str
    severity_text: str
    trace_id: str | None


def group_logs(records: Sequence[ErrorLog], exemplar_trace_ids: Collection[str]) -> list[LogTemplateCount]:
    """The records' templates, those seen in the exemplar traces first, then the most frequent."""
    groups: dict[str, list[ErrorLog]] = {}
    for record in records:
        groups.setdefault(template_of(record.body), []).append(record)
    counted = [
        LogTemplateCount(
            template=template,
            count=len(group),
            in_exemplar_traces=sum(1 for r in group if r.trace_id in exemplar_trace_ids),
            severity_text=group[0].severity_text,
            example=group[-1].body[:1000],
            trace_ids=list(dict.fromkeys(r.trace_id for r in reversed(group) if r.trace_id))[:MAX_TRACE_IDS],
            first_seen=min(r.time for r in group),
            last_seen=max(r.time for r in group),
        )
        for template, group in groups.items()
    ]
    counted.sort(key=lambda t: (-t.in_exemplar_traces, -t.count, t.template))
    return counted[:MAX_TEMPLATES]
