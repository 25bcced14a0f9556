import pytest

from aiops_core.bus.routing import topic_matches


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("spans.#", "spans.batch", True),
        ("spans.#", "spans", True),
        ("spans.#", "spans.a.b.c", True),
        ("spans.*", "spans.batch", True),
        ("spans.*", "spans", False),
        ("spans.*", "spans.a.b", False),
        ("#", "anything.at.all", True),
        ("anomaly.detected", "anomaly.cleared", False),
        ("*.detected", "anomaly.detected", True),
        ("#.detected", "a.b.detected", True),
        ("#.detected", "a.b.cleared", False),
    ],
)
def test_topic_matching(pattern: str, key: str, matches: bool) -> None:
    assert topic_matches(pattern, key) is matches
