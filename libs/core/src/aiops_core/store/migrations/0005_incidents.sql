-- The incidents service: the service graph learned from traces, incidents with their member
-- anomalies and timeline, silences, and webhook deliveries.

-- Calls from one service to another (a client span in `source` whose child server span is in
-- `target`), counted over the graph job's recent window and kept while they are seen.
CREATE TABLE service_edges (
    source      text             NOT NULL,
    target      text             NOT NULL,
    calls       bigint           NOT NULL,
    errors      bigint           NOT NULL,
    window_s    double precision NOT NULL,
    last_seen   timestamptz      NOT NULL,
    PRIMARY KEY (source, target)
);

-- One incident per problem. `fingerprint` is its root cause (service, operation, kind) when it
-- opened: at most one unresolved incident per fingerprint, so replicas and redelivered events
-- upsert the same incident.
CREATE TABLE incidents (
    id               uuid        PRIMARY KEY,
    fingerprint      text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    severity         text        NOT NULL CHECK (severity IN ('critical', 'high', 'medium', 'low')),
    title            text        NOT NULL,
    root_service     text,
    root_operation   text,
    root_kind        text,
    candidates       jsonb       NOT NULL DEFAULT '[]',
    impact           jsonb       NOT NULL DEFAULT '{}',
    started_at       timestamptz NOT NULL,
    opened_at        timestamptz NOT NULL,
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    resolved_at      timestamptz,
    resolved_by      text,
    reopened_count   integer     NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL,
    ranked_at        timestamptz
);

CREATE UNIQUE INDEX incidents_one_active_idx ON incidents (fingerprint) WHERE status <> 'resolved';
CREATE INDEX incidents_opened_idx ON incidents (opened_at DESC, id DESC);
CREATE INDEX incidents_unresolved_idx ON incidents (status) WHERE status <> 'resolved';

-- Every anomaly event received, with the incident it belongs to (its id makes redelivery a no-op).
CREATE TABLE incident_anomalies (
    anomaly_id   uuid             PRIMARY KEY,
    incident_id  uuid             NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    service      text             NOT NULL,
    operation    text             NOT NULL,
    kind         text             NOT NULL,
    score        double precision NOT NULL,
    started_at   timestamptz      NOT NULL,
    detected_at  timestamptz      NOT NULL,
    cleared_at   timestamptz,
    window_s     integer          NOT NULL,
    observed     jsonb            NOT NULL,
    baseline     jsonb            NOT NULL,
    evidence     jsonb            NOT NULL,
    joined_at    timestamptz      NOT NULL
);

CREATE INDEX incident_anomalies_incident_idx ON incident_anomalies (incident_id);
CREATE INDEX incident_anomalies_detected_idx ON incident_anomalies (detected_at DESC);
CREATE INDEX incident_anomalies_open_idx ON incident_anomalies (service) WHERE cleared_at IS NULL;

-- An incident's timeline, and the outbox of its notifications: an event is fanned out to the
-- channels until `notified_at` is set, so a crash between the two loses nothing.
CREATE TABLE incident_events (
    id           bigserial   PRIMARY KEY,
    incident_id  uuid        NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at           timestamptz NOT NULL,
    type         text        NOT NULL,
    actor        text        NOT NULL,
    detail       jsonb       NOT NULL DEFAULT '{}',
    notified_at  timestamptz
);

CREATE INDEX incident_events_incident_idx ON incident_events (incident_id, id);
CREATE INDEX incident_events_unnotified_idx ON incident_events (id) WHERE notified_at IS NULL;

-- Silences: an incident whose root cause matches every non-null matcher, while the silence is
-- in force, sends no webhook.
CREATE TABLE silences (
    id          uuid        PRIMARY KEY,
    service     text,
    operation   text,
    kind        text,
    starts_at   timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL CHECK (ends_at > starts_at),
    created_by  text        NOT NULL,
    comment     text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL,
    deleted_at  timestamptz
);

CREATE INDEX silences_active_idx ON silences (ends_at) WHERE deleted_at IS NULL;

-- One row per (event, webhook URL). Its id is the delivery id a receiver uses to drop
-- duplicates; it stays the same on every attempt.
CREATE TABLE webhook_deliveries (
    id               uuid        PRIMARY KEY,
    event_id         bigint      NOT NULL REFERENCES incident_events (id) ON DELETE CASCADE,
    url              text        NOT NULL,
    payload          jsonb       NOT NULL,
    status           text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    last_error       text,
    delivered_at     timestamptz,
    UNIQUE (event_id, url)
);

CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
