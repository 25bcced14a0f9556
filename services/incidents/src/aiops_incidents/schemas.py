"""The pydantic models of the incidents API, of its notifications and of the `aiops:incidents`
channel. The field names here are the documented contract."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from aiops_core.models import Anomaly, AnomalyKind, ErrorMessageCount
from aiops_core.pagination import Page
from aiops_core.peers import NodeKind
from aiops_core.validation import IsoDatetime, StoredText


class IncidentStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class EventType(StrEnum):
    OPENED = "opened"
    ANOMALY_JOINED = "anomaly_joined"
    ANOMALY_CLEARED = "anomaly_cleared"
    ROOT_CAUSE_CHANGED = "root_cause_changed"
    SEVERITY_CHANGED = "severity_changed"
    ACKNOWLEDGED = "acknowledged"
    COMMENT = "comment"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    # An operator accepted a lasting change of a member series as normal.
    ACCEPTED_AS_NORMAL = "accepted_as_normal"


# Events that page: sent to webhooks. Every event goes to the Redis channel and the stream.
WEBHOOK_EVENTS = frozenset(
    {
        EventType.OPENED,
        EventType.SEVERITY_CHANGED,
        EventType.ACKNOWLEDGED,
        EventType.RESOLVED,
        EventType.REOPENED,
    }
)


class InstanceBreakdown(BaseModel):
    """One instance's requests of a candidate's series during the incident."""

    instance: str = Field(description="service.instance.id, pod or host; 'other (N)' for the rest folded.")
    requests: int = Field(ge=0)
    errors: int = Field(ge=0)
    error_ratio: float = Field(ge=0, le=1)
    p95_ms: float | None
    outlier: bool = Field(
        default=False, description="This instance carries the trouble; its siblings do not."
    )


class LogTemplateCount(BaseModel):
    """Error-level log records of a candidate's service during the fault, alike but for what varies."""

    template: str = Field(
        description="The message with what varies (numbers, ids, quoted values) as <*>.",
        examples=["request failed: card <*> declined by processor <*>"],
    )
    count: int = Field(ge=1, description="Records of the template in the fault's window.")
    in_exemplar_traces: int = Field(
        ge=0, description="Of them, those logged inside the candidate's exemplar traces."
    )
    severity_text: str
    example: str = Field(description="The latest such record's message, whole.")
    trace_ids: list[str] = Field(description="Traces some of them were logged in, the latest first.")
    first_seen: datetime
    last_seen: datetime


class ChangeKind(StrEnum):
    DEPLOY = "deploy"
    CONFIG = "config"
    FEATURE_FLAG = "feature_flag"
    SCALE = "scale"
    OTHER = "other"


class ChangeIn(BaseModel):
    """A change posted by a CI pipeline, a Helm hook or a script."""

    service: StoredText = Field(min_length=1, max_length=256, description="The service changed.")
    kind: ChangeKind = ChangeKind.DEPLOY
    at: IsoDatetime | None = Field(default=None, description="When it happened. Default: now.")
    summary: StoredText = Field(default="", max_length=2000)
    old_version: StoredText | None = Field(default=None, max_length=256)
    new_version: StoredText | None = Field(default=None, max_length=256)
    attributes: dict[str, StoredText] = Field(
        default_factory=dict,
        max_length=32,
        description="Anything else worth keeping: commit, author, ticket.",
    )


class Change(BaseModel):
    id: UUID
    service: str
    kind: ChangeKind
    at: datetime
    summary: str
    old_version: str | None
    new_version: str | None
    source: str = Field(description="`spans`: a new service.version seen in them; `api`: posted.")
    attributes: dict[str, str]
    recorded_at: datetime


class CandidateChange(BaseModel):
    """A change to a candidate shortly before its trouble began."""

    id: UUID
    kind: ChangeKind
    at: datetime
    summary: str
    old_version: str | None
    new_version: str | None
    before_s: float = Field(description="Seconds from the change to the candidate's trouble beginning.")


class CandidateEvidence(BaseModel):
    trace_ids: list[str] = Field(
        default_factory=list, description="Traces in which this is where it started."
    )
    span_paths: list[list[str]] = Field(
        default_factory=list,
        description="For each exemplar trace, the spans from the entry point down to the cause, "
        "as 'service operation'.",
    )
    error_messages: list[ErrorMessageCount] = Field(default_factory=list)
    observed: dict[str, float | None] = Field(default_factory=dict)
    baseline: dict[str, float | None] = Field(default_factory=dict)
    seen_from: list[str] = Field(
        default_factory=list,
        description="For an inferred peer: the services whose calls to it went wrong.",
    )
    instances: list[InstanceBreakdown] = Field(
        default_factory=list,
        description="For a service: its requests during the incident by instance, the busiest first.",
    )
    logs: list[LogTemplateCount] = Field(
        default_factory=list,
        description="For a service: its error-level log records during the incident, grouped by "
        "message template; those logged inside the exemplar traces first, then the most frequent.",
    )
    changes: list[CandidateChange] = Field(
        default_factory=list,
        description="Changes to it (deploys, config) in the 15 minutes before its trouble began, "
        "latest first.",
    )


class RootCauseCandidate(BaseModel):
    service: str = Field(description="The service, or the inferred peer (see node_kind).")
    operation: str
    kind: AnomalyKind
    node_kind: NodeKind = Field(
        default=NodeKind.SERVICE,
        description="service: it sends spans; otherwise a peer inferred from its callers' client "
        "spans (a database, a cache, a queue, an HTTP API), named as they name it.",
    )
    instance: str | None = Field(
        default=None,
        description="The one instance of the service that carries the trouble while its siblings "
        "do not (delete that pod rather than roll back); null when the service as a whole does.",
    )
    score: float = Field(
        ge=0, le=1, description="Share of the blame, from 0 to 1; candidates are ranked by it."
    )
    reason: str = Field(description="Why it ranks here, in one sentence.")
    evidence: CandidateEvidence = Field(default_factory=CandidateEvidence)


class Impact(BaseModel):
    """What the incident does: to the requests that enter the system (root spans) and to its
    member series. The plain fields follow the fault while it lasts (re-measured at every
    ranking); the peak fields keep the worst seen, and set the severity."""

    entry_requests: int = Field(
        default=0, ge=0, description="Entry-point requests in the last 5 minutes of the incident."
    )
    affected_share: float = Field(
        default=0, ge=0, le=1, description="Share of them that failed or were slower than usual."
    )
    error_ratio: float = Field(
        default=0,
        ge=0,
        le=1,
        description="Highest error ratio among the member series with an error anomaly, over their "
        "last 30 s.",
    )
    latency_factor: float = Field(
        default=1,
        ge=0,
        description="Highest p95 latency over the usual one among the member series with a latency "
        "anomaly, over their last 30 s.",
    )
    peak_affected_share: float = Field(default=0, ge=0, le=1, description="Highest affected_share so far.")
    peak_error_ratio: float = Field(
        default=0, ge=0, le=1, description="Highest error_ratio so far, the detection windows' included."
    )
    peak_latency_factor: float = Field(
        default=1, ge=0, description="Highest latency_factor so far, the detection windows' included."
    )


class TimelineEvent(BaseModel):
    id: int
    at: datetime
    type: EventType
    actor: str = Field(description="'system' or the name of the API token that did it.")
    detail: dict[str, object] = Field(default_factory=dict)


class IncidentSummary(BaseModel):
    id: UUID
    status: IncidentStatus
    severity: Severity
    title: str
    fingerprint: str = Field(description="service|operation|kind of the root cause when it opened.")
    root_cause: RootCauseCandidate | None = Field(description="The top-ranked candidate.")
    services: list[str] = Field(description="Services with a member anomaly.")
    anomaly_count: int
    started_at: datetime = Field(description="Start of the earliest member anomaly's window.")
    opened_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    reopened_count: int = 0
    updated_at: datetime


class IncidentDetail(IncidentSummary):
    candidates: list[RootCauseCandidate]
    impact: Impact
    timeline: list[TimelineEvent]
    anomalies: list[Anomaly]


class IncidentPage(Page[IncidentSummary]):
    pass


class AnomalyPage(Page[Anomaly]):
    pass


class FailingOperation(BaseModel):
    service: str
    operation: str
    anomalies: int


class LiveCounters(BaseModel):
    counters: dict[str, int] = Field(
        description="Since the platform started keeping them: anomalies, anomalies:<kind>, "
        "incidents_opened, incidents_resolved."
    )
    failing_operations: list[FailingOperation] = Field(
        description="Operations with the most anomalies, most first."
    )


class CommentIn(BaseModel):
    text: StoredText = Field(min_length=1, max_length=4000, examples=["Rolled back payment to v1.4.2"])


class ActionIn(BaseModel):
    """Optional note with an acknowledge or resolve."""

    comment: StoredText | None = Field(default=None, max_length=4000)


class ServiceHealth(StrEnum):
    OK = "ok"
    LEARNING = "learning"
    DEGRADED = "degraded"
    FAILING = "failing"


class ServiceNode(BaseModel):
    service: str
    kind: NodeKind = Field(
        default=NodeKind.SERVICE,
        description="service: it sends spans; otherwise inferred from its callers' client spans.",
    )
    health: ServiceHealth = Field(
        description="failing: an open error anomaly; degraded: another open anomaly; learning: no "
        "open anomaly, but a series of it is still learning its baseline (only the floors judge "
        "it); ok: every series learned and none anomalous."
    )
    open_anomalies: int
    learning: bool = Field(default=False, description="Some series of the service is still learning.")
    learning_remaining_s: float | None = Field(
        default=None,
        description="Seconds until its last series has learned, if it stays healthy; null once all have.",
    )


class ServiceEdge(BaseModel):
    source: str
    target: str
    target_kind: NodeKind = Field(
        default=NodeKind.SERVICE,
        description="service: the target sends spans; otherwise a peer inferred from the source's "
        "client spans, which no server span answers (a database, a cache, a queue, an HTTP API).",
    )
    calls_per_s: float
    error_ratio: float
    last_seen: datetime


class ServiceGraph(BaseModel):
    services: list[ServiceNode]
    edges: list[ServiceEdge]


class SilenceIn(BaseModel):
    # "At least one matcher", in the schema too: one of them is there and not null.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": [name], "properties": {name: {"not": {"type": "null"}}}}
                for name in ("service", "operation", "kind")
            ]
        }
    )

    service: StoredText | None = Field(
        default=None, max_length=256, description="Exact service name; null for any."
    )
    operation: StoredText | None = Field(default=None, max_length=512)
    kind: AnomalyKind | None = None
    starts_at: IsoDatetime | None = Field(default=None, description="Default: now.")
    ends_at: IsoDatetime
    comment: StoredText = Field(default="", max_length=4000)

    @model_validator(mode="after")
    def _matches_something(self) -> SilenceIn:
        if self.service is None and self.operation is None and self.kind is None:
            raise ValueError("a silence needs at least one matcher: service, operation or kind")
        return self


class Silence(BaseModel):
    id: UUID
    service: str | None
    operation: str | None
    kind: AnomalyKind | None
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    created_at: datetime


class IncidentNotification(BaseModel):
    """What a webhook receives (with `delivery_id`), and what the `aiops:incidents` channel and the
    event stream carry (without it)."""

    delivery_id: UUID | None = Field(
        default=None, description="The same on every attempt of one delivery: drop a repeated one."
    )
    event: TimelineEvent
    incident: IncidentSummary
    silenced: bool = Field(
        default=False, description="A silence matches the incident (webhooks are not sent)."
    )
