-- Changes: something that happened to a service at a time (a deploy, a config or feature-flag
-- change, a scale event). Posted through the API, or seen in the service's spans: a
-- service.version (or deployment.environment) it had not sent before, or one back (a rollback).
CREATE TABLE changes (
    id           uuid        PRIMARY KEY,
    service      text        NOT NULL,
    kind         text        NOT NULL,
    at           timestamptz NOT NULL,
    summary      text        NOT NULL DEFAULT '',
    old_version  text,
    new_version  text,
    -- 'spans' (seen in them) or 'api'
    source       text        NOT NULL,
    attributes   jsonb       NOT NULL DEFAULT '{}',
    recorded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX changes_service_at_idx ON changes (service, at);
CREATE INDEX changes_at_idx ON changes (at);

-- The versions and environments each service's spans have carried, and when, from which a new
-- one is a change. attribute: 'service.version' or 'deployment.environment'.
CREATE TABLE service_versions (
    service     text        NOT NULL,
    attribute   text        NOT NULL,
    value       text        NOT NULL,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL,
    PRIMARY KEY (service, attribute, value)
);
