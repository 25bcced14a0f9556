-- One row per span batch written, inserted in the same transaction as the batch's spans:
-- a redelivered batch finds its id here and is skipped, so nothing is stored twice.
CREATE TABLE ingested_batches (
    batch_id      uuid        PRIMARY KEY,
    span_count    integer     NOT NULL,
    committed_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX ingested_batches_committed_at_idx ON ingested_batches (committed_at);
