from datetime import UTC, datetime, timedelta

import pytest

from aiops_incidents.rca.log_evidence import MAX_TEMPLATES, ErrorLog, group_logs, template_of

T0 = datetime(2026, 12, 7, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "template"),
    [
        ("order 8812 failed after 3.5 s", "order <*> failed after <*> s"),
        ('user "ann" not found', "user <*> not found"),
        ("trace 4bf92f3577b34da6 span 00f067aa0ba902b7", "trace <*> span <*>"),
        ("id 123e4567-e89b-12d3-a456-426614174000 gone", "id <*> gone"),
        ("cannot reach 10.0.0.7:5432", "cannot reach <*>"),
        ("TimeoutError: upstream\n  File x.py, line 3", "TimeoutError: upstream"),
        ("deadbeef is a word, cafe too", "deadbeef is a word, cafe too"),
    ],
)
def test_what_varies_becomes_a_placeholder(body: str, template: str) -> None:
    assert template_of(body) == template


def log(body: str, seconds: int = 0, trace_id: str | None = None) -> ErrorLog:
    return ErrorLog(T0 + timedelta(seconds=seconds), body, "ERROR", trace_id)


def test_templates_seen_in_the_exemplar_traces_come_first_then_the_most_frequent() -> None:
    records = [log(f"retry {n} failed", n) for n in range(5)] + [
        log("card 1 declined", 10, "a" * 32),
        log("card 2 declined", 11, "b" * 32),
    ]
    first, second = group_logs(records, {"b" * 32})
    assert (first.template, first.count, first.in_exemplar_traces) == ("card <*> declined", 2, 1)
    assert (first.example, first.trace_ids) == ("card 2 declined", ["b" * 32, "a" * 32])
    assert (first.first_seen, first.last_seen) == (T0 + timedelta(seconds=10), T0 + timedelta(seconds=11))
    assert (second.template, second.count, second.in_exemplar_traces) == ("retry <*> failed", 5, 0)


def test_at_most_a_few_templates_are_kept() -> None:
    records = [log(f"error kind {chr(97 + n)}", n) for n in range(MAX_TEMPLATES + 3)]
    assert len(group_logs(records, set())) == MAX_TEMPLATES
