-- Baselines learn from healthy time only: the detector reads each series' anomalies by series
-- and time when it learns a baseline.
CREATE INDEX anomalies_series_idx ON anomalies (service, operation, started_at);

-- A lasting change an operator accepted as normal: from `accepted_at` on, the series' baseline
-- for that kind learns only from what came after, and an anomaly of that kind open then clears.
CREATE TABLE baseline_acceptances (
    id           uuid        PRIMARY KEY,
    service      text        NOT NULL,
    operation    text        NOT NULL,
    kind         text        NOT NULL,
    accepted_at  timestamptz NOT NULL,
    accepted_by  text        NOT NULL,
    comment      text        NOT NULL DEFAULT ''
);

CREATE INDEX baseline_acceptances_series_idx ON baseline_acceptances (service, operation, kind, accepted_at);

-- What the detector knows of each series' learning, written whenever it learns the series'
-- baseline again: the seconds of healthy history each measure (rate, errors, latency) has, and
-- how many it needs before it judges against them.
CREATE TABLE series_learning (
    service        text             NOT NULL,
    operation      text             NOT NULL,
    measured_at    timestamptz      NOT NULL,
    history_s      jsonb            NOT NULL,
    min_history_s  double precision NOT NULL,
    PRIMARY KEY (service, operation)
);

CREATE INDEX series_learning_measured_idx ON series_learning (measured_at);
