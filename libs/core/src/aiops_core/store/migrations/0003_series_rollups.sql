-- Per-series, per-minute rollups of request spans: the history that baselines are learned from.
-- Filled by the detector's rollup job on both backends: a TimescaleDB continuous aggregate
-- cannot compute percentiles without the toolkit extension, and one job keeps one code path.
CREATE TABLE series_rollups (
    service      text             NOT NULL,
    operation    text             NOT NULL,
    minute       timestamptz      NOT NULL,
    requests     integer          NOT NULL,
    errors       integer          NOT NULL,
    p50_ms       double precision NOT NULL,
    p95_ms       double precision NOT NULL,
    p99_ms       double precision NOT NULL,
    -- The first request's start within the minute: a series' first minute is only partly covered.
    first_start  timestamptz      NOT NULL,
    -- The minute in progress is rolled up again on every run; this is how far its row covers.
    covered_until timestamptz     NOT NULL,
    PRIMARY KEY (service, operation, minute)
);

CREATE INDEX series_rollups_minute_idx ON series_rollups (minute);

-- How far the rollup job got: minutes before `done_until` are rolled up.
CREATE TABLE rollup_progress (
    name        text        PRIMARY KEY,
    done_until  timestamptz NOT NULL
);

-- The rollup job reads spans by start time only; a BRIN index keeps that a short range scan.
CREATE INDEX spans_start_time_brin_idx ON spans USING brin (start_time);
