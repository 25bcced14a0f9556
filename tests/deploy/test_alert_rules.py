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
    assert "SUCCESS: 7 rules found" in result.stdout


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
                "series": f'aiops_queue_messages{{queue="telemetry.store.dlq", pod="d-1", {DETECTOR}}}',
                "values": "0 0 3x18",
            },
            {"series": f'up{{pod="d-1", instance="10.0.0.7:8001", {DETECTOR}}}', "values": "1 1 0x18"},
            {"series": f'up{{pod="i-1", instance="10.0.0.8:4318", {INGEST}}}', "values": "1x20"},
        ],
        "alert_rule_test": [
            {"eval_time": "5m", "alertname": "AiopsConsumerLagHigh", "exp_alerts": []},
            alert(
                "AiopsConsumerLagHigh",
                {"severity": "warning", "namespace": AT},
                "Span batches pile up in telemetry.store",
                "5000 span batches have waited in telemetry.store in aiops for 10 minutes: "
                "the writers are too few, or the database is slow or down.",
            )
            | {"eval_time": "15m"},
            alert(
                "AiopsDeadLetteredMessages",
                {"severity": "warning", "namespace": AT},
                "Span batches were dead-lettered",
                "3 span batches in telemetry.store.dlq in aiops could not be stored; the reason is in "
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
]


def test_the_alerts_fire_on_trouble_and_stay_quiet_otherwise(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(alert_rules()))
    tests = tmp_path / "tests.yaml"
    tests.write_text(
        yaml.safe_dump({"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": RULE_TESTS})
    )
    result = promtool("test", "rules", str(tests))
    assert result.returncode == 0, result.stdout + result.stderr
