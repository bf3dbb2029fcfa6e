-- The dashboard's read model, the certificates issued in OID, and the audit trail.
-- Written by the records activity: one audit event, the request row and its certificates in one transaction.

CREATE TABLE requests (
    request_id            text PRIMARY KEY,
    status                text        NOT NULL,
    exporter_name         text        NOT NULL,
    exporter_operation_id text        NOT NULL,
    importer_name         text        NOT NULL,
    importer_operation_id text        NOT NULL,
    etd                   date        NOT NULL,
    customs_deadline      timestamptz NOT NULL,
    late                  boolean     NOT NULL DEFAULT false,
    lead_working_days     integer     NOT NULL,
    commodity_count       integer     NOT NULL CHECK (commodity_count >= 0),
    product_names         text[]      NOT NULL DEFAULT '{}',
    -- Filled by the writer from product_names: to_tsvector over an array is not immutable, so it cannot be
    -- a generated column.
    product_search        tsvector    NOT NULL DEFAULT ''::tsvector,
    received_at           timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    -- Sequence of the audit event that last wrote this row, so a late retry never overwrites a newer state.
    last_sequence         integer     NOT NULL
);

CREATE INDEX requests_by_status ON requests (status, customs_deadline);
CREATE INDEX requests_by_customs_deadline ON requests (customs_deadline);
CREATE INDEX requests_by_exporter ON requests (exporter_operation_id, updated_at DESC);
CREATE INDEX requests_by_product_name ON requests USING gin (product_search);

CREATE TABLE certificates (
    request_id       text        NOT NULL REFERENCES requests (request_id),
    commodity_index  integer     NOT NULL CHECK (commodity_index >= 0),
    -- NULL while pending (not yet issued in OID).
    nopic_number     text        UNIQUE CHECK (nopic_number ~ '^[0-9]{3}-[0-9]{10}-[0-9]{6}$'),
    product_name     text        NOT NULL,
    hts_code         text        NOT NULL CHECK (hts_code ~ '^[0-9]{10}$'),
    organic_standard text        NOT NULL,
    net_kg           numeric     NOT NULL CHECK (net_kg > 0),
    lot_numbers      text[]      NOT NULL DEFAULT '{}',
    status           text        NOT NULL,
    issued_at        timestamptz,
    cancelled_at     timestamptz,
    cancel_reason    text,
    updated_at       timestamptz NOT NULL,
    last_sequence    integer     NOT NULL,
    PRIMARY KEY (request_id, commodity_index)
);

CREATE INDEX certificates_by_status ON certificates (status);

CREATE TABLE audit_events (
    -- '<request id>:<sequence>', fixed by the workflow, so a retried activity writes the event once.
    event_id    text        PRIMARY KEY,
    request_id  text        NOT NULL,
    sequence    integer     NOT NULL CHECK (sequence >= 1),
    actor_id    text        NOT NULL,
    actor_name  text        NOT NULL,
    actor_role  text        NOT NULL,
    action      text        NOT NULL,
    payload     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (request_id, sequence)
);

CREATE INDEX audit_events_by_actor ON audit_events (actor_id, occurred_at DESC);
