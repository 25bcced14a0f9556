-- Root cause at the grain it happens: the node a client span calls (a database, a cache, a queue,
-- an HTTP API that may send no spans) and the instance of the service that sent a span, both
-- named once at ingest (aiops_core.peers) so that every later query reads a column.
ALTER TABLE spans
    ADD COLUMN peer      text,
    ADD COLUMN peer_kind text,
    ADD COLUMN instance  text;

-- The calls to one peer, by operation and time: its series as its callers see it.
CREATE INDEX spans_peer_idx ON spans (peer, operation, start_time) WHERE peer IS NOT NULL;

-- What the target of an edge is: a service, or a peer inferred from the callers' spans.
ALTER TABLE service_edges ADD COLUMN target_kind text NOT NULL DEFAULT 'service';

-- The instance an incident's root cause names, when one instance carries the trouble.
ALTER TABLE incidents ADD COLUMN root_instance text;
