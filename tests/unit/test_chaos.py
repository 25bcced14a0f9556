"""`aiops chaos`: the seeded schedule, the matching of incidents to faults, the scorecard, and its
small HTTP clients against in-memory transports."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import click
import httpx
import pytest
from click.testing import CliRunner

from aiops_incidents.schemas import IncidentDetail
from aiops_shop.chaos.command import chaos, parse_duration, reachable
from aiops_shop.chaos.incidents_api import IncidentsApi, IncidentView
from aiops_shop.chaos.matching import FaultRun, windows
from aiops_shop.chaos.report import as_json, render
from aiops_shop.chaos.runner import run_plan
from aiops_shop.chaos.scenarios import catalogue, select
from aiops_shop.chaos.schedule import plan, time_for_all
from aiops_shop.chaos.scorecard import score
from aiops_shop.chaos.shop import ShopControl, UnreachableError, urls_of

SCENARIOS = catalogue()
BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
PAYMENT_ERRORS = BY_NAME["payment-errors-100"]
INVENTORY_LATENCY = BY_NAME["inventory-latency-200"]
CASCADE = BY_NAME["inventory-cascade"]
DB_SLOW = BY_NAME["db-slow"]
ONE_BAD_INSTANCE = BY_NAME["one-bad-instance"]
T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- the schedule ---------------------------------------------------------------------------------


def test_the_catalogue_names_the_ground_truth_of_every_fault() -> None:
    assert [s.name for s in SCENARIOS] == [
        "payment-errors-100",
        "payment-errors-20",
        "payment-latency-300",
        "inventory-errors-50",
        "inventory-latency-200",
        "frontend-errors-50",
        "inventory-cascade",
        "db-slow",
        "one-bad-instance",
        "pool-leak",
        "bad-deploy",
    ]
    assert (CASCADE.target, CASCADE.amount, CASCADE.cause_service, CASCADE.cause_kinds) == (
        "inventory",
        6000.0,
        "inventory",
        frozenset({"latency"}),
    )
    assert BY_NAME_9000["inventory-cascade"].query == {"ms": 9000}
    assert PAYMENT_ERRORS.query == {"rate": 1.0}
    assert all(s.cause_instance is None and s.instance is None for s in SCENARIOS[:7])


BY_NAME_9000 = {scenario.name: scenario for scenario in catalogue(cascade_ms=9000)}


def test_a_slow_database_is_injected_into_inventory_s_database_and_blamed_on_it() -> None:
    assert (DB_SLOW.target, DB_SLOW.controls, DB_SLOW.fault, DB_SLOW.query) == (
        "inventory",
        "/simulate/stock-db",
        "latency",
        {"ms": 300.0},
    )
    # The name the platform gives a database from its callers' spans: db.system server.address.
    assert (DB_SLOW.cause_service, DB_SLOW.cause_kinds, DB_SLOW.cause_instance) == (
        "postgresql stock-db",
        frozenset({"latency"}),
        None,
    )
    assert DB_SLOW.where == "inventory /simulate/stock-db"
    assert DB_SLOW.truth == "postgresql stock-db latency"


def test_one_bad_instance_is_injected_into_payment_2_alone_and_blamed_on_it() -> None:
    scenario = ONE_BAD_INSTANCE
    assert (scenario.target, scenario.instance, scenario.controls, scenario.query) == (
        "payment",
        "payment-2",
        "/simulate",
        {"ms": 300.0},
    )
    assert (scenario.cause_service, scenario.cause_kinds, scenario.cause_instance) == (
        "payment",
        frozenset({"latency"}),
        "payment-2",
    )
    assert (scenario.where, scenario.truth) == ("payment-2", "payment latency on payment-2")


def test_a_fault_goes_to_every_instance_of_its_service_or_to_its_one_instance() -> None:
    urls = {"payment": ["http://pay-1:8081/", "http://pay-2:8083"], "inventory": ["http://inv:8082"]}
    assert urls_of(BY_NAME["payment-latency-300"], urls) == ["http://pay-1:8081", "http://pay-2:8083"]
    assert urls_of(ONE_BAD_INSTANCE, urls) == ["http://pay-2:8083"]
    assert urls_of(DB_SLOW, urls) == ["http://inv:8082"]
    with pytest.raises(UnreachableError, match="needs the URL of payment-2"):
        urls_of(ONE_BAD_INSTANCE, {"payment": ["http://pay-1:8081"]})
    with pytest.raises(UnreachableError, match="needs the URL of frontend"):
        urls_of(BY_NAME["frontend-errors-50"], urls)


def test_a_scenario_with_no_app_to_go_to_is_left_out_unless_asked_for(
    capsys: pytest.CaptureFixture[str],
) -> None:
    one_payment = {"frontend": ["http://f"], "payment": ["http://p"], "inventory": ["http://i"]}
    kept = reachable(SCENARIOS, one_payment, named=False)
    assert kept == tuple(s for s in SCENARIOS if s is not ONE_BAD_INSTANCE)
    assert "leaving out one-bad-instance" in capsys.readouterr().err
    with pytest.raises(click.BadParameter, match="one-bad-instance needs the URL of payment-2"):
        reachable((ONE_BAD_INSTANCE,), one_payment, named=True)


def test_scenarios_can_be_restricted_by_name() -> None:
    assert select(SCENARIOS, ["inventory-cascade", "payment-errors-20"]) == (
        BY_NAME["payment-errors-20"],
        CASCADE,
    )
    assert select(SCENARIOS, []) == SCENARIOS
    with pytest.raises(ValueError, match="unknown scenario nope"):
        select(SCENARIOS, ["nope"])


def test_the_schedule_is_the_same_for_the_same_seed() -> None:
    first = plan(SCENARIOS, seed=7, total_s=3000)
    assert first == plan(SCENARIOS, seed=7, total_s=3000)
    assert [f.scenario for f in first] != [f.scenario for f in plan(SCENARIOS, seed=8, total_s=3000)]


def test_a_long_enough_run_covers_the_catalogue_and_then_repeats_it() -> None:
    total = time_for_all(len(SCENARIOS), quiet_s=600, fault_s=(45, 75), gap_s=100)
    once = plan(SCENARIOS, seed=7, total_s=total, quiet_s=600)
    assert {f.scenario.name for f in once} == set(BY_NAME)
    twice = plan(SCENARIOS, seed=7, total_s=2 * total, quiet_s=600)
    assert twice[: len(once)] == once  # a longer run starts as the shorter one does
    cycle = len(SCENARIOS)
    order = [f.scenario for f in twice]
    assert order[cycle : 2 * cycle] == order[:cycle]  # then goes round again in the same order


@pytest.mark.parametrize("seed", range(5))
def test_faults_never_overlap_and_keep_their_gaps_within_the_run(seed: int) -> None:
    planned = plan(SCENARIOS, seed=seed, total_s=1800, quiet_s=120, fault_s=(45, 75), gap_s=100)
    assert planned
    assert planned[0].start_s == 120
    for fault in planned:
        assert 45 <= fault.duration_s <= 75
    for before, after in itertools.pairwise(planned):
        assert after.start_s >= before.end_s + 100 - 1e-9
    assert planned[-1].end_s + 100 <= 1800


def test_a_run_too_short_for_one_fault_and_its_gap_plans_none() -> None:
    assert plan(SCENARIOS, seed=1, total_s=170, fault_s=(75, 75), gap_s=100) == []
    assert len(plan(SCENARIOS, seed=1, total_s=175, fault_s=(75, 75), gap_s=100)) == 1


def test_a_bad_fault_range_is_refused() -> None:
    with pytest.raises(ValueError, match="shortest"):
        plan(SCENARIOS, seed=1, total_s=100, fault_s=(60, 30))


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("20m", 1200), ("1h30m", 5400), ("2.5m", 150)]
)
def test_durations_read_with_units(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "20x", "-5", "1h-2"])
def test_a_bad_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_the_command_refuses_an_unknown_scenario_before_touching_anything() -> None:
    result = CliRunner().invoke(chaos, ["--scenarios", "payment-errors-100,nope"])
    assert result.exit_code == 2
    assert "unknown scenario nope" in result.output


def test_the_command_refuses_one_bad_instance_without_a_second_payment_url() -> None:
    result = CliRunner().invoke(
        chaos, ["--scenarios", "one-bad-instance", "--payment-url", "http://127.0.0.1:1"]
    )
    assert result.exit_code == 2
    assert "needs the URL of payment-2" in result.output
    assert "--payment-url takes one URL per instance" in result.output


@pytest.mark.parametrize("urls", ["", " , ", "127.0.0.1:8081", "http://a:8081,ftp://b"])
def test_the_command_refuses_a_bad_url_list(urls: str) -> None:
    result = CliRunner().invoke(chaos, ["--payment-url", urls])
    assert result.exit_code == 2
    assert "--payment-url" in result.output


def test_the_help_lists_every_scenario() -> None:
    result = CliRunner().invoke(chaos, ["--help"])
    assert result.exit_code == 0
    listed = " ".join(result.output.split("Scenarios:")[1].split("Options:")[0].split())
    assert listed == ", ".join(scenario.name for scenario in SCENARIOS) + "."


# --- the scorecard, on incidents shaped like the API's IncidentDetail ---------------------------------


def candidate(service: str, kind: str, score: float, instance: str | None = None) -> dict[str, Any]:
    operation = {
        "payment": "POST /payment",
        "inventory": "GET /inventory/{sku}",
        "postgresql stock-db": "SELECT stock",
    }.get(service, "POST /checkout")
    found = {"service": service, "operation": operation, "kind": kind, "score": score, "reason": "test"}
    return found if instance is None else {**found, "instance": instance}


def event(seconds: float, type_: str, actor: str = "system") -> dict[str, Any]:
    return {
        "id": int(seconds * 1000),
        "at": at(seconds).isoformat(),
        "type": type_,
        "actor": actor,
        "detail": {},
    }


def incident(
    *,
    opened: float,
    started: float | None = None,
    resolved: float | None = None,
    resolved_by: str = "system",
    candidates: list[dict[str, Any]] | None = None,
    reopened: Sequence[float] = (),
    extra_events: Sequence[dict[str, Any]] = (),
) -> IncidentView:
    """An incident as `GET /aiops/incidents/{id}` returns it, checked against the API's own model."""
    candidates = candidates if candidates is not None else [candidate("payment", "error_ratio", 0.9)]
    timeline = [event(opened, "opened"), *extra_events] + [event(s, "reopened") for s in reopened]
    if resolved is not None:
        timeline.append(event(resolved, "resolved", resolved_by))
    body = {
        "id": str(uuid4()),
        "status": "resolved" if resolved is not None else "open",
        "severity": "high",
        "title": f"{candidates[0]['service']} {candidates[0]['kind']}" if candidates else "untitled",
        "fingerprint": "x|y|z",
        "root_cause": candidates[0] if candidates else None,
        "services": sorted({c["service"] for c in candidates}),
        "anomaly_count": 2,
        "started_at": at(opened - 8 if started is None else started).isoformat(),
        "opened_at": at(opened).isoformat(),
        "acknowledged_at": None,
        "resolved_at": None if resolved is None else at(resolved).isoformat(),
        "reopened_count": len(reopened),
        "updated_at": at(max([opened, *reopened, *([] if resolved is None else [resolved])])).isoformat(),
        "candidates": candidates,
        "impact": {"entry_requests": 100, "affected_share": 0.5, "error_ratio": 0.5, "latency_factor": 1},
        "timeline": timeline,
        "anomalies": [],
    }
    IncidentDetail.model_validate(body)  # the synthetic JSON keeps to the contract
    return IncidentView.model_validate(json.loads(json.dumps(body)))


def fault(scenario_name: str, injected: float, ended: float) -> FaultRun:
    return FaultRun(BY_NAME[scenario_name], at(injected), at(ended))


def test_the_right_root_cause_first_counts_for_ac1_with_mttd_and_auto_resolve() -> None:
    found = incident(opened=106, resolved=190)
    card = score([fault("payment-errors-100", 100, 160)], [found], run_started=at(0))
    [result] = card.faults
    assert [o.incident for o in result.openings] == [found]
    assert (result.mttd_s, result.rank, result.auto_resolve_s) == (6.0, 1, 30.0)
    assert (card.totals.ac1, card.totals.ac3, card.totals.one_incident_share) == (1.0, 1.0, 1.0)
    assert all(check.passed for check in card.targets)


def test_the_right_root_cause_second_counts_only_for_ac3() -> None:
    ranked_second = incident(
        opened=105,
        resolved=180,
        # In the API's order, not by score: the scorecard ranks by score itself.
        candidates=[
            candidate("inventory", "error_ratio", 0.3),
            candidate("frontend", "error_ratio", 0.6),
            candidate("inventory", "latency", 0.5),
        ],
    )
    card = score([fault("inventory-latency-200", 100, 160)], [ranked_second], run_started=at(0))
    [result] = card.faults
    assert (result.rank, result.service_rank) == (2, 2)
    assert (card.totals.ac1, card.totals.ac3) == (0.0, 1.0)
    assert not card.targets[0].passed


def test_the_right_service_with_the_wrong_kind_is_not_ac1_but_is_service_ac1() -> None:
    wrong_kind = incident(opened=105, resolved=180, candidates=[candidate("inventory", "error_ratio", 0.9)])
    card = score([fault("inventory-cascade", 100, 160)], [wrong_kind], run_started=at(0))
    assert (card.faults[0].rank, card.faults[0].service_rank) == (None, 1)
    assert (card.totals.ac1, card.totals.ac1_service, card.totals.ac3) == (0.0, 1.0, 0.0)


@pytest.mark.parametrize(("instance", "rank"), [("payment-2", 1), ("payment-1", None), (None, None)])
def test_a_fault_in_one_instance_is_named_only_with_that_instance(
    instance: str | None, rank: int | None
) -> None:
    found = incident(opened=105, resolved=190, candidates=[candidate("payment", "latency", 0.9, instance)])
    card = score([fault("one-bad-instance", 100, 160)], [found], run_started=at(0))
    # The service-only figure stays service-only.
    assert (card.faults[0].rank, card.faults[0].service_rank) == (rank, 1)
    assert (card.totals.ac1, card.totals.ac1_service) == (1.0 if rank else 0.0, 1.0)


def test_the_right_instance_ranked_second_counts_for_ac3() -> None:
    found = incident(
        opened=105,
        resolved=190,
        candidates=[
            candidate("payment", "latency", 0.9, "payment-1"),
            candidate("payment", "latency", 0.7, "payment-2"),
        ],
    )
    card = score([fault("one-bad-instance", 100, 160)], [found], run_started=at(0))
    assert (card.faults[0].rank, card.faults[0].service_rank) == (2, 1)


def test_a_service_wide_fault_is_named_whichever_instance_a_candidate_says() -> None:
    found = incident(opened=105, resolved=190, candidates=[candidate("payment", "latency", 0.9, "payment-1")])
    card = score([fault("payment-latency-300", 100, 160)], [found], run_started=at(0))
    assert card.faults[0].rank == 1


def test_a_slow_database_is_named_by_the_inferred_node_not_by_inventory() -> None:
    blames_inventory = incident(opened=105, resolved=190, candidates=[candidate("inventory", "latency", 0.9)])
    blames_db = incident(
        opened=405,
        resolved=490,
        candidates=[candidate("inventory", "latency", 0.6), candidate("postgresql stock-db", "latency", 0.8)],
    )
    card = score(
        [fault("db-slow", 100, 160), fault("db-slow", 400, 460)], [blames_inventory, blames_db], at(0)
    )
    assert [(f.rank, f.service_rank) for f in card.faults] == [(None, None), (1, 1)]


def test_the_report_shows_the_instance_of_the_truth_and_of_the_candidates() -> None:
    found = incident(opened=105, resolved=190, candidates=[candidate("payment", "latency", 0.9, "payment-2")])
    card = score([fault("one-bad-instance", 100, 160)], [found], run_started=at(0))
    text = render(card)
    assert "payment latency on payment-2" in text  # the ground truth
    assert "root cause payment POST /payment latency on payment-2 0.90" in text
    data = json.loads(json.dumps(as_json(card, {})))
    assert data["faults"][0]["truth"] == {"service": "payment", "kinds": ["latency"], "instance": "payment-2"}
    assert data["faults"][0]["incidents"][0]["top_candidates"][0]["instance"] == "payment-2"
    assert data["faults"][0]["ac1"] is True


def test_two_incidents_in_one_fault_window_are_both_counted() -> None:
    first = incident(opened=104, resolved=190)
    # Opened by the fault, blaming another service, and after the fault ended (within 30 s).
    second = incident(opened=185, resolved=230, candidates=[candidate("frontend", "traffic_surge", 0.8)])
    card = score([fault("payment-errors-100", 100, 160)], [second, first], run_started=at(0))
    [result] = card.faults
    assert [o.incident for o in result.openings] == [first, second]
    assert result.mttd_s == 4.0  # from the first
    assert card.totals.one_incident_share == 0.0
    assert card.totals.false_alarms == 0


def test_an_incident_outside_every_window_is_a_false_alarm() -> None:
    matched = incident(opened=106, resolved=190)
    quiet = incident(opened=40, resolved=90)  # normal load before the fault
    late = incident(opened=400, started=395)  # long after the window
    earlier_run = incident(opened=-300, resolved=-200)  # before this run: not ours
    card = score([fault("payment-errors-100", 100, 160)], [matched, quiet, late, earlier_run], at(0))
    assert [o.incident for o in card.false_alarms] == [quiet, late]
    assert card.totals.false_alarms == 2
    assert not card.targets[-1].passed


def test_an_incident_opened_late_belongs_to_the_fault_its_first_anomaly_started_in() -> None:
    slow = incident(opened=200, started=150, resolved=260)
    card = score([fault("payment-errors-100", 100, 160)], [slow], run_started=at(0))
    assert card.faults[0].mttd_s == 100.0
    assert card.false_alarms == []


def test_the_window_opens_5_s_before_the_injection() -> None:
    just_before = incident(opened=96, resolved=190)
    too_early = incident(opened=90, started=85, resolved=190)
    card = score([fault("payment-errors-100", 100, 160)], [just_before, too_early], run_started=at(0))
    assert [o.incident for o in card.faults[0].openings] == [just_before]
    assert [o.incident for o in card.false_alarms] == [too_early]


def test_windows_of_close_faults_never_overlap() -> None:
    faults = [fault("payment-errors-100", 100, 160), fault("inventory-cascade", 170, 230)]
    assert windows(faults) == [(at(95), at(165)), (at(165), at(260))]


def test_a_reopening_counts_as_the_incident_of_the_later_fault() -> None:
    # Both faults blame payment for errors: the second reopens the first one's incident.
    recurring = incident(opened=105, reopened=[405], resolved=480, extra_events=[event(200, "resolved")])
    card = score(
        [fault("payment-errors-100", 100, 160), fault("payment-errors-20", 400, 450)],
        [recurring],
        run_started=at(0),
    )
    first, second = card.faults
    assert (first.mttd_s, first.auto_resolve_s) == (5.0, 40.0)
    assert [o.reopened for o in second.openings] == [True]
    assert (second.mttd_s, second.auto_resolve_s) == (5.0, 30.0)
    assert card.totals.one_incident_share == 1.0


def test_resolve_time_comes_from_resolved_at_and_only_the_platform_counts() -> None:
    by_platform = incident(opened=105, resolved=230)
    by_person = incident(opened=505, resolved=520, resolved_by="alice")
    still_open = incident(opened=905)
    faults = [
        fault("payment-errors-100", 100, 160),
        fault("payment-latency-300", 500, 560),
        fault("payment-errors-20", 900, 960),
    ]
    card = score(faults, [by_platform, by_person, still_open], run_started=at(0))
    assert [f.auto_resolve_s for f in card.faults] == [70.0, None, None]
    assert card.faults[1].openings[0].resolved_by == "alice"
    assert card.totals.not_auto_resolved == 2
    assert card.totals.worst_auto_resolve_s is None
    assert not card.targets[3].passed
    assert card.targets[3].measured == "2 not auto-resolved"


def test_a_slow_auto_resolve_fails_its_target() -> None:
    slow = incident(opened=105, resolved=160 + 95)
    card = score([fault("payment-errors-100", 100, 160)], [slow], run_started=at(0))
    assert card.totals.worst_auto_resolve_s == 95.0
    assert not card.targets[3].passed


def test_mttd_median_is_over_the_detected_faults() -> None:
    faults = [fault("payment-errors-100", 100 + 300 * n, 160 + 300 * n) for n in range(4)]
    found = [
        incident(opened=100 + 300 * n + mttd, resolved=200 + 300 * n) for n, mttd in enumerate((4, 20, 6))
    ]
    card = score(faults, found, run_started=at(0))
    assert [f.mttd_s for f in card.faults] == [4.0, 20.0, 6.0, None]
    assert (card.totals.detected, card.totals.mttd_median_s) == (3, 6.0)
    assert card.targets[2].passed
    assert card.totals.ac1 == 0.75  # the missed fault counts as a wrong answer
    assert card.totals.one_incident_share == 0.75


def test_nothing_detected_fails_every_target_that_needs_an_incident() -> None:
    card = score([fault("payment-errors-100", 100, 160)], [], run_started=at(0))
    assert [check.passed for check in card.targets] == [False, False, False, False, True]


def test_the_report_shows_every_fault_and_target_and_the_json_round_trips() -> None:
    card = score(
        [fault("payment-errors-100", 100, 160), fault("inventory-cascade", 400, 460)],
        [incident(opened=106, resolved=190), incident(opened=40)],
        run_started=at(0),
    )
    text = render(card)
    assert "payment-errors-100" in text
    assert "inventory-cascade" in text
    assert "PASS  AC@1" not in text
    assert "FAIL  incidents during normal load" in text
    assert "incidents during normal load:" in text
    data = json.loads(json.dumps(as_json(card, {"seed": 7})))
    assert data["faults"][0]["ac1"] is True
    assert data["faults"][1]["incidents"] == []
    assert data["totals"]["false_alarms"] == 1
    assert data["run"] == {"seed": 7}


# --- the HTTP clients, on in-memory transports --------------------------------------------------------


async def test_the_incidents_api_pages_sends_the_token_and_fetches_the_touched_ones() -> None:
    touched, stale = incident(opened=106, resolved=190), incident(opened=-1000, resolved=-900)
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        assert request.headers["authorization"] == "Bearer s3cret"
        if request.url.path == "/aiops/incidents":
            listed = {
                None: ([touched], "page-2"),
                "page-2": ([stale, touched], None),  # a repeat across pages is fetched once
            }
            items, cursor = listed[request.url.params.get("cursor")]
            summaries = [
                {"id": i.id, "updated_at": (i.resolved_at or i.opened_at).isoformat()} for i in items
            ]
            return httpx.Response(200, json={"items": summaries, "next_cursor": cursor})
        assert request.url.path == f"/aiops/incidents/{touched.id}"
        return httpx.Response(200, json=json.loads(touched.model_dump_json()))

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        api = IncidentsApi(client, "http://incidents:8000/", "s3cret")
        assert await api.incidents_touched_since(at(0)) == [touched]
    assert seen[0].url.params["limit"] == "200"
    assert datetime.fromisoformat(seen[0].url.params["since"]) < at(0)  # reopenings of older ones too


async def test_the_plan_runs_against_the_shop_and_each_fault_is_reset() -> None:
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.url.host} {request.url.path} {request.url.query.decode()}".strip())
        return httpx.Response(200, json={"error_rate": 0, "latency_ms": 0})

    scenarios = (PAYMENT_ERRORS, CASCADE)
    planned = plan(scenarios, seed=1, total_s=0.55, quiet_s=0.1, fault_s=(0.1, 0.1), gap_s=0.1)
    urls = {name: f"http://{name}" for name in ("frontend", "payment", "inventory")}
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        runs = await run_plan(planned, ShopControl(client, urls), total_s=0.55, say=lambda _: None)
    assert {run.scenario for run in runs} == set(scenarios)
    assert all(run.ended_at > run.injected_at for run in runs)
    expected = {
        PAYMENT_ERRORS.name: ["payment /simulate/error rate=1.0", "payment /simulate/reset"],
        CASCADE.name: ["inventory /simulate/latency ms=6000", "inventory /simulate/reset"],
    }
    assert calls == expected[runs[0].scenario.name] + expected[runs[1].scenario.name]


async def test_faults_go_to_an_instance_or_to_a_database_and_are_reset_there() -> None:
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(f"{request.url.host} {request.url.path} {request.url.query.decode()}".strip())
        return httpx.Response(200, json={"error_rate": 0, "latency_ms": 0})

    urls = {
        "frontend": "http://frontend",
        "payment": ["http://payment-1", "http://payment-2/"],
        "inventory": ["http://inventory"],
    }
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        shop = ShopControl(client, urls)
        await shop.inject(ONE_BAD_INSTANCE)
        await shop.reset(ONE_BAD_INSTANCE)
        await shop.inject(DB_SLOW)
        await shop.reset(DB_SLOW)
        assert calls == [
            "payment-2 /simulate/latency ms=300",
            "payment-2 /simulate/reset",
            "inventory /simulate/stock-db/latency ms=300",
            "inventory /simulate/stock-db/reset",
        ]
        calls.clear()
        await shop.inject(BY_NAME["payment-errors-20"])
        assert sorted(calls) == ["payment-1 /simulate/error rate=0.2", "payment-2 /simulate/error rate=0.2"]
        calls.clear()
        await shop.reset_all()
    assert sorted(calls) == [
        f"{app} /simulate/reset" for app in ("frontend", "inventory", "payment-1", "payment-2")
    ]


def test_a_leak_scores_how_long_before_its_first_failed_request_the_incident_opened() -> None:
    found = incident(opened=130, candidates=[candidate("inventory", "saturation", 0.9)])
    leak = FaultRun(BY_NAME["pool-leak"], at(100), at(170), first_failure_at=at(142.5))
    card = score([leak], [found], run_started=at(0))
    [result] = card.faults
    assert (result.warning_s, result.rank) == (12.5, 1)
    assert "12.5 s" in render(card).splitlines()[1]
    assert as_json(card, {})["faults"][0]["warning_s"] == 12.5
    # A fault whose shop does not say when it first failed has no warning to score.
    assert (
        score([fault("payment-errors-100", 100, 160)], [incident(opened=106)], run_started=at(0))
        .faults[0]
        .warning_s
        is None
    )
