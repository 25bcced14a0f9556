-- Spans, range-partitioned by start time into one partition a day. Partitions are created
-- ahead of time and dropped past the retention age by the platform's maintenance job.
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
) PARTITION BY RANGE (start_time);

CREATE INDEX spans_trace_id_idx ON spans (trace_id);
CREATE INDEX spans_series_idx ON spans (service, operation, start_time);
