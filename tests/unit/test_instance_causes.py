from aiops_core.models import AnomalyKind
from aiops_incidents.rca.instances import InstanceStats, folded, instance_cause

LATENCY, ERRORS = AnomalyKind.LATENCY, AnomalyKind.ERROR_RATIO


def stats(*rows: tuple[str, int, int, float | None]) -> list[InstanceStats]:
    return [InstanceStats(name, requests, errors, p95) for name, requests, errors, p95 in rows]


def test_one_slow_instance_among_its_siblings_is_named() -> None:
    found = instance_cause(stats(("p-1", 200, 1, 6), ("p-2", 190, 0, 260), ("p-3", 210, 1, 7)), LATENCY)
    assert found is not None
    assert found.instance == "p-2"
    assert found.sentence == "p-2: p95 260 ms, siblings 7 ms; 1 of 3 instances"


def test_a_release_slow_everywhere_names_no_instance() -> None:
    assert (
        instance_cause(stats(("p-1", 200, 0, 310), ("p-2", 190, 0, 290), ("p-3", 210, 0, 350)), LATENCY)
        is None
    )


def test_jitter_between_fast_instances_is_not_an_outlier() -> None:
    assert instance_cause(stats(("p-1", 200, 0, 4), ("p-2", 190, 0, 11)), LATENCY) is None, "twice, but 7 ms"


def test_one_failing_instance_is_named() -> None:
    found = instance_cause(stats(("p-1", 100, 1, 40), ("p-2", 100, 48, 40)), ERRORS)
    assert found is not None
    assert found.instance == "p-2"
    assert found.sentence == "p-2: 48% of requests failed, siblings 1.0%; 1 of 2 instances"


def test_errors_everywhere_name_no_instance() -> None:
    assert (
        instance_cause(stats(("p-1", 100, 18, 40), ("p-2", 100, 22, 40), ("p-3", 90, 20, 40)), ERRORS) is None
    )


def test_a_lone_instance_or_one_too_quiet_to_judge_names_none() -> None:
    assert instance_cause(stats(("p-1", 100, 50, 400)), LATENCY) is None
    assert instance_cause(stats(("p-1", 100, 0, 6), ("p-2", 3, 3, 900)), LATENCY) is None
    assert instance_cause(stats(("p-1", 100, 0, 6), ("p-2", 3, 3, 900)), ERRORS) is None


def test_traffic_anomalies_are_not_judged_per_instance() -> None:
    assert instance_cause(stats(("p-1", 200, 0, 6), ("p-2", 2, 0, 6)), AnomalyKind.TRAFFIC_DROP) is None


def test_the_busiest_instances_are_kept_and_the_rest_folded() -> None:
    rows = stats(*((f"p-{i}", 10 * i, i, float(i)) for i in range(1, 12)))
    kept = folded(rows, keep=3)
    assert [s.instance for s in kept] == ["p-11", "p-10", "p-9", "other (8)"]
    assert (kept[-1].requests, kept[-1].errors, kept[-1].p95_ms) == (360, 36, 8.0)
    assert folded(rows[:2], keep=3) == sorted(rows[:2], key=lambda s: -s.requests)
