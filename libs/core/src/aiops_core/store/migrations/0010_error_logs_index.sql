-- The error-level log records by time, across services: what the detector counts every few
-- seconds to find a surge of them (log_surge), a small share of all records.
CREATE INDEX log_records_errors_idx ON log_records (time) WHERE severity_number >= 17;
