-- Metric points and log records, the two signals besides spans, each in its own table
-- range-partitioned by time into one partition a day, under the same maintenance job as spans.
CREATE TABLE metric_points (
    time            timestamptz      NOT NULL,
    series_id       bigint           NOT NULL,
    -- Start of the interval a delta covers (NULL for a gauge's value).
    start_time      timestamptz,
    -- A gauge's value, a sum's delta (or level, for a non-monotonic cumulative sum).
    value           double precision,
    -- Histograms and summaries: the deltas of their count, sum and bucket counts.
    count           double precision,
    sum             double precision,
    bucket_bounds   double precision[],
    bucket_counts   double precision[]
) PARTITION BY RANGE (time);

CREATE INDEX metric_points_series_idx ON metric_points (series_id, time);

CREATE TABLE log_records (
    time             timestamptz NOT NULL,
    service          text        NOT NULL,
    instance         text,
    severity_number  smallint    NOT NULL,
    severity_text    text        NOT NULL DEFAULT '',
    body             text        NOT NULL,
    trace_id         bytea,
    span_id          bytea,
    attributes       jsonb       NOT NULL DEFAULT '{}'
) PARTITION BY RANGE (time);

CREATE INDEX log_records_trace_id_idx ON log_records (trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX log_records_service_idx ON log_records (service, time);

-- Every metric series: its identity (service, instance, name and a bounded set of attributes,
-- hashed by ingest into series_id), and the last cumulative point seen, from which the writer
-- turns the next into a delta. Counted per (service, name) for the cardinality cap.
CREATE TABLE metric_series (
    series_id           bigint      PRIMARY KEY,
    service             text        NOT NULL,
    instance            text,
    name                text        NOT NULL,
    -- gauge, sum, histogram, exponential_histogram or summary
    kind                text        NOT NULL,
    -- Monotonic sums and every histogram and summary are stored as deltas; gauges and
    -- non-monotonic sums as received (temporality says which: a level or a change).
    monotonic           boolean     NOT NULL DEFAULT false,
    temporality         text,
    unit                text        NOT NULL DEFAULT '',
    description         text        NOT NULL DEFAULT '',
    attributes          jsonb       NOT NULL DEFAULT '{}',
    first_seen          timestamptz NOT NULL,
    last_seen           timestamptz NOT NULL,
    cumulative_start    timestamptz,
    cumulative_time     timestamptz,
    cumulative_value    double precision,
    cumulative_count    double precision,
    cumulative_sum      double precision,
    cumulative_buckets  double precision[],
    cumulative_bounds   double precision[]
);

CREATE INDEX metric_series_name_idx ON metric_series (service, name);
CREATE INDEX metric_series_last_seen_idx ON metric_series (last_seen);

-- Batches of every signal share the exactly-once ledger (span_count counts the rows of a batch
-- of any signal: it keeps its name so that writers of the previous release keep working while
-- an upgrade rolls out).
ALTER TABLE ingested_batches ADD COLUMN signal text NOT NULL DEFAULT 'traces';
