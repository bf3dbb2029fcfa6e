-- Issuing and cancelling in OID as certifiers do (manual issuance, cancellation tasks).
--
-- A NOPIC number is held by one request's commodity for good: `nopic_claims` is where the workflow claims a
-- number typed by hand, atomically, before recording it. The read model's own UNIQUE on the number goes:
-- a second request's audit write once hit it and was retried without end, wedging that request; the
-- claim refuses the number at once instead, naming the request that holds it.
CREATE TABLE nopic_claims (
    nopic_number    text        PRIMARY KEY CHECK (nopic_number ~ '^[0-9]{3}-[0-9]{10}-[0-9]{6}$'),
    request_id      text        NOT NULL,
    commodity_index integer     NOT NULL CHECK (commodity_index >= 0),
    claimed_at      timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE certificates DROP CONSTRAINT certificates_nopic_number_key;
CREATE INDEX certificates_by_number ON certificates (nopic_number) WHERE nopic_number IS NOT NULL;

-- A correction of the request data may replace a commodity's NOPIC: the replaced one (to cancel in OID)
-- keeps its row beside the new one, under the next revision.
ALTER TABLE certificates ADD COLUMN revision integer NOT NULL DEFAULT 0 CHECK (revision >= 0);
ALTER TABLE certificates DROP CONSTRAINT certificates_pkey;
ALTER TABLE certificates ADD PRIMARY KEY (request_id, commodity_index, revision);

-- Since when a cancellation waits (the "To cancel in OID" queue), and what OID answered when it refused.
ALTER TABLE certificates ADD COLUMN cancellation_requested_at timestamptz;
ALTER TABLE certificates ADD COLUMN oid_failure text;
CREATE INDEX certificates_to_cancel ON certificates (cancellation_requested_at)
    WHERE status = 'cancellation_pending';
