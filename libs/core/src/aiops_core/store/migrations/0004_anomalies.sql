-- Anomalies found by the detectors. At most one open (not cleared) anomaly per series and kind,
-- enforced here so that replicas evaluating at once cannot open two. The *_published_at
-- columns make this table the outbox of the `anomalies` exchange: an event is published until
-- it is marked, so a crash between the insert and the publish loses nothing.
CREATE TABLE anomalies (
    id                    uuid             PRIMARY KEY,
    service               text             NOT NULL,
    operation             text             NOT NULL,
    kind                  text             NOT NULL,
    score                 double precision NOT NULL,
    peak_score            double precision NOT NULL,
    started_at            timestamptz      NOT NULL,
    detected_at           timestamptz      NOT NULL,
    window_s              integer          NOT NULL,
    observed              jsonb            NOT NULL,
    baseline              jsonb            NOT NULL,
    evidence              jsonb            NOT NULL,
    calm_since            timestamptz,
    cleared_at            timestamptz,
    detected_published_at timestamptz,
    cleared_published_at  timestamptz
);

CREATE UNIQUE INDEX anomalies_one_open_idx ON anomalies (service, operation, kind) WHERE cleared_at IS NULL;
CREATE INDEX anomalies_detected_at_idx ON anomalies (detected_at);
CREATE INDEX anomalies_unpublished_idx ON anomalies (detected_at)
    WHERE detected_published_at IS NULL OR (cleared_at IS NOT NULL AND cleared_published_at IS NULL);
