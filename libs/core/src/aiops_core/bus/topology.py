"""Names of the exchanges and queues, and which routing keys each queue receives.

Every work queue has a dead-letter queue `<name>.dlq`, bound on the dead-letter exchange with
the work queue's name as routing key, so a message that can never be processed is kept with
the reason instead of being dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

TELEMETRY_EXCHANGE = "telemetry"
ANOMALIES_EXCHANGE = "anomalies"
DEAD_LETTER_EXCHANGE = "aiops.dead-letter"

SPAN_BATCH_ROUTING_KEY = "spans.batch"
METRIC_BATCH_ROUTING_KEY = "metrics.batch"
LOG_BATCH_ROUTING_KEY = "logs.batch"
ANOMALY_DETECTED_ROUTING_KEY = "anomaly.detected"
ANOMALY_CLEARED_ROUTING_KEY = "anomaly.cleared"

# Headers set on a message that a consumer dead-lettered itself.
DEAD_LETTER_REASON_HEADER = "x-aiops-dead-letter-reason"
ORIGINAL_ROUTING_KEY_HEADER = "x-aiops-original-routing-key"


@dataclass(frozen=True)
class QueueSpec:
    name: str
    exchange: str
    binding_keys: tuple[str, ...]

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dlq"


SPAN_STORE_QUEUE = QueueSpec("telemetry.store", TELEMETRY_EXCHANGE, ("spans.#",))
SPAN_DETECT_QUEUE = QueueSpec("telemetry.detect", TELEMETRY_EXCHANGE, ("spans.#",))
METRIC_STORE_QUEUE = QueueSpec("telemetry.metrics.store", TELEMETRY_EXCHANGE, ("metrics.#",))
LOG_STORE_QUEUE = QueueSpec("telemetry.logs.store", TELEMETRY_EXCHANGE, ("logs.#",))
# Where the incidents service takes anomaly events from.
ANOMALY_QUEUE = QueueSpec("incidents.anomalies", ANOMALIES_EXCHANGE, ("anomaly.#",))

# Declared by every service that connects, so that a publish is routable even before the
# consuming service has started for the first time.
EXCHANGES = (TELEMETRY_EXCHANGE, ANOMALIES_EXCHANGE)
ALL_QUEUES = (SPAN_STORE_QUEUE, SPAN_DETECT_QUEUE, METRIC_STORE_QUEUE, LOG_STORE_QUEUE, ANOMALY_QUEUE)

# Webhook deliveries that used up their attempts. No work queue stands in front of this one (the
# incidents service retries deliveries in its database), so only `incidents.webhooks.dlq` is
# declared, and the final failure is published straight onto the dead-letter exchange with
# `incidents.webhooks` as routing key, the same way a consumer dead-letters a message.
WEBHOOK_DEAD_LETTERS = QueueSpec("incidents.webhooks", DEAD_LETTER_EXCHANGE, ())
DEAD_LETTER_ONLY_QUEUES = (WEBHOOK_DEAD_LETTERS,)
