"""The PrometheusRule's alerts: valid for Prometheus (`promtool check rules`), and firing on the
series the platform exports when, and only when, its health is at stake (`promtool test rules`)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.chart import manifests, render
from tests.support.tools import require_tool


def alert_rules() -> dict[str, Any]:
    """The rule groups of the chart's PrometheusRule, with the default thresholds."""
    (rule,) = [
        o for o in manifests(render({"prometheusRule": {"enabled": True}})) if o["kind"] == "PrometheusRule"
    ]
    spec: dict[str, Any] = rule["spec"]
    return spec


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [require_tool("promtool", "prometheus"), *args], capture_output=True, text=True, timeout=60
    )


def test_promtool_accepts_the_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(alert_rules()))
    result = promtool("check", "rules", str(rules))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 10 rules found" in result.stdout


def alert(name: str, labels: dict[str, str], summary: str, description: str) -> dict[str, Any]:
    return {
        "alertname": name,
        "exp_alerts": [
            {"exp_labels": labels, "exp_annotations": {"summary": summary, "description": description}}
        ],
    }


AT = "aiops"
DETECTOR = 'namespace="aiops", app_kubernetes_io_component="detector", app_kubernetes_io_part_of="aiops"'
INGEST = 'namespace="aiops", app_kubernetes_io_component="ingest", app_kubernetes_io_part_of="aiops"'
INCIDENTS = 'namespace="aiops", app_kubernetes_io_component="incidents", app_kubernetes_io_part_of="aiops"'


def webhook_notifications(outcome: str, pod: str) -> str:
    return f'aiops_notifications_total{{channel="webhook", outcome="{outcome}", pod="{pod}", {INCIDENTS}}}'


# Series as the documented scrape configuration labels them; one sample a minute.
RULE_TESTS = [
    {
        "interval": "1m",
        "input_series": [
            # Two writers report the same queue: the alert is about the queue, not each pod.
            {
                "series": f'aiops_queue_messages{{queue="telemetry.store", pod="d-1", {DETECTOR}}}',
                "values": "5000x20",
            },
            {
                "series": f'aiops_queue_messages{{queue="telemetry.store", pod="d-2", {DETECTOR}}}',
                "values": "5000x20",
            },
            {
                "series": f'aiops_queue_messages{{queue="telemetry.logs.store.dlq", pod="d-1", {DETECTOR}}}',
                "values": "0 0 3x18",
            },
            {"series": f'up{{pod="d-1", instance="10.0.0.7:8001", {DETECTOR}}}', "values": "1 1 0x18"},
            {"series": f'up{{pod="i-1", instance="10.0.0.8:4318", {INGEST}}}', "values": "1x20"},
        ],
        "alert_rule_test": [
            {"eval_time": "5m", "alertname": "AiopsConsumerLagHigh", "exp_alerts": []},
            alert(
                "AiopsConsumerLagHigh",
                {"severity": "warning", "namespace": AT, "queue": "telemetry.store"},
                "Batches pile up in telemetry.store",
                "5000 batches have waited in telemetry.store in aiops for 10 minutes: "
                "the writers are too few, or the database is slow or down.",
            )
            | {"eval_time": "15m"},
            alert(
                "AiopsDeadLetteredMessages",
                {"severity": "warning", "namespace": AT, "queue": "telemetry.logs.store.dlq"},
                "Batches were dead-lettered in telemetry.logs.store.dlq",
                "3 batches in telemetry.logs.store.dlq in aiops could not be stored; the reason is in "
                "each message's x-aiops-dead-letter-reason header.",
            )
            | {"eval_time": "5m"},
            alert(
                "AiopsTargetDown",
                {
                    "severity": "critical",
                    "namespace": AT,
                    "pod": "d-1",
                    "instance": "10.0.0.7:8001",
                    "app_kubernetes_io_component": "detector",
                    "app_kubernetes_io_part_of": "aiops",
                },
                "detector pod d-1 cannot be scraped",
                "Prometheus has failed to scrape 10.0.0.7:8001 for 5 minutes: the pod is down, restarting, "
                "or unreachable.",
            )
            | {"eval_time": "10m"},
        ],
    },
    {
        "interval": "1m",
        "input_series": [
            # 100 spans a minute accepted, 20 refused for bad ids, then 60 a minute refused
            # because the broker is gone.
            {"series": f"aiops_ingest_spans_total{{pod='i-1', {INGEST}}}", "values": "0+100x30"},
            {
                "series": f"aiops_ingest_rejected_total{{reason='invalid_trace_id', pod='i-1', {INGEST}}}",
                "values": "0+20x30",
            },
            {
                "series": f"aiops_ingest_rejected_total{{reason='broker_unavailable', pod='i-1', {INGEST}}}",
                "values": "0x15 0+60x15",
            },
        ],
        "alert_rule_test": [
            {"eval_time": "10m", "alertname": "AiopsIngestBrokerUnavailable", "exp_alerts": []},
            alert(
                "AiopsIngestRejectingSpans",
                {"severity": "warning", "namespace": AT},
                "Ingest refuses a large share of the spans it receives",
                "16.67% of the spans sent to ingest in aiops were refused over 10 minutes; "
                "aiops_ingest_rejected_total{reason} says why (bad ids, clock skew, too old, broker).",
            )
            | {"eval_time": "12m"},
            alert(
                "AiopsIngestBrokerUnavailable",
                {"severity": "critical", "namespace": AT},
                "Ingest cannot publish to RabbitMQ and answers 503",
                "Ingest in aiops has refused 1 spans/s for 5 minutes because the broker did not confirm "
                "them. Exporters retry, but will drop spans once their queues fill.",
            )
            | {"eval_time": "25m"},
        ],
    },
    {
        "interval": "1m",
        "input_series": [
            # Two incidents replicas report the same queue; 50 waiting events are a passing burst,
            # 500 for minutes are a service that does not keep up.
            {
                "series": f'aiops_queue_messages{{queue="incidents.anomalies", pod="n-1", {INCIDENTS}}}',
                "values": "50x10 500x20",
            },
            {
                "series": f'aiops_queue_messages{{queue="incidents.anomalies", pod="n-2", {INCIDENTS}}}',
                "values": "50x10 500x20",
            },
            {
                "series": f'aiops_queue_messages{{queue="incidents.anomalies.dlq", pod="n-1", {INCIDENTS}}}',
                "values": "0x10 2x20",
            },
            # Two deliveries given up on one replica at minute 21; delivered ones do not count.
            {
                "series": webhook_notifications("dead", "n-1"),
                "values": "0x20 2x20",
            },
            {
                "series": webhook_notifications("dead", "n-2"),
                "values": "0x40",
            },
            {
                "series": webhook_notifications("delivered", "n-2"),
                "values": "0+10x40",
            },
        ],
        "alert_rule_test": [
            {"eval_time": "10m", "alertname": "AiopsIncidentsLagHigh", "exp_alerts": []},
            {"eval_time": "10m", "alertname": "AiopsAnomaliesDeadLettered", "exp_alerts": []},
            {"eval_time": "10m", "alertname": "AiopsWebhookDeadLettered", "exp_alerts": []},
            alert(
                "AiopsIncidentsLagHigh",
                {"severity": "warning", "namespace": AT},
                "Anomaly events pile up in incidents.anomalies",
                "500 anomaly events have waited in incidents.anomalies in aiops for 5 minutes: incidents "
                "open late or not at all. The incidents service is too slow, or cannot reach its database.",
            )
            | {"eval_time": "17m"},
            alert(
                "AiopsAnomaliesDeadLettered",
                {"severity": "warning", "namespace": AT},
                "Anomaly events were dead-lettered",
                "2 anomaly events in incidents.anomalies.dlq in aiops could not be turned into incidents; "
                "the reason is in each message's x-aiops-dead-letter-reason header.",
            )
            | {"eval_time": "13m"},
            alert(
                "AiopsWebhookDeadLettered",
                {"severity": "warning", "namespace": AT},
                "Incident notifications to a webhook were given up",
                "2 webhook deliveries in aiops used up their attempts in the last 15 minutes and went to "
                "incidents.webhooks.dlq: a receiver is down or refusing them, so on-call may not have been "
                "told of an incident.",
            )
            | {"eval_time": "30m"},
            # Quiet again once no delivery has been given up for 15 minutes.
            {"eval_time": "40m", "alertname": "AiopsWebhookDeadLettered", "exp_alerts": []},
        ],
    },
]


def test_the_incidents_alerts_come_and_go_with_the_incidents_service() -> None:
    def groups(values: dict[str, Any]) -> dict[str, dict[str, str]]:
        """Group name -> alert name -> expression."""
        values = {**values, "prometheusRule": {"enabled": True, **values.get("prometheusRule", {})}}
        (rule,) = [o for o in manifests(render(values)) if o["kind"] == "PrometheusRule"]
        return {g["name"]: {r["alert"]: r["expr"] for r in g["rules"]} for g in rule["spec"]["groups"]}

    default = groups({})["aiops.incidents"]
    assert list(default) == [
        "AiopsIncidentsLagHigh",
        "AiopsAnomaliesDeadLettered",
        "AiopsWebhookDeadLettered",
    ]
    assert default["AiopsIncidentsLagHigh"].endswith("> 100")
    tuned = groups({"prometheusRule": {"incidentsLagMessages": 20}})["aiops.incidents"]
    assert tuned["AiopsIncidentsLagHigh"].endswith("> 20")
    assert "aiops.incidents" not in groups({"incidents": {"enabled": False}})


def test_the_alerts_fire_on_trouble_and_stay_quiet_otherwise(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(alert_rules()))
    tests = tmp_path / "tests.yaml"
    tests.write_text(
        yaml.safe_dump({"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": RULE_TESTS})
    )
    result = promtool("test", "rules", str(tests))
    assert result.returncode == 0, result.stdout + result.stderr
