-- Spans as a TimescaleDB hypertable with one chunk a day. Retention and compression are
-- TimescaleDB policies, set from the platform's settings at start-up.
CREATE TABLE spans (
    start_time      timestamptz      NOT NULL,
    trace_id        text             NOT NULL,
    span_id         text             NOT NULL,
    parent_span_id  text,
    service         text             NOT NULL,
    operation       text             NOT NULL,
    kind            text             NOT NULL,
    duration_ms     double precision NOT NULL,
    http_status     smallint,
    is_error        boolean          NOT NULL,
    error_message   text,
    attributes      jsonb            NOT NULL DEFAULT '{}'
);

SELECT create_hypertable('spans', 'start_time', chunk_time_interval => INTERVAL '1 day');

CREATE INDEX spans_trace_id_idx ON spans (trace_id);
CREATE INDEX spans_series_idx ON spans (service, operation, start_time);

ALTER TABLE spans SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'service, operation',
    timescaledb.compress_orderby = 'start_time DESC'
);
