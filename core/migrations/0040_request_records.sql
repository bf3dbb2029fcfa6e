-- A closed request as it was when it closed: the workflow's whole state (form, checklist, certificates with
-- their numbers, shipments, reconciliation, history). Written by the records activity in the transaction of
-- the closing change, so the API and dashboard serve a closed request from here whatever Temporal still
-- holds (its namespace retention deletes closed workflows after days). Kept until `keep_until`: the
-- certifier keeps the records it creates for at least 10 years (7 CFR 205.510(b)).
CREATE TABLE request_records (
    request_id  text        PRIMARY KEY REFERENCES requests (request_id),
    state       jsonb       NOT NULL,
    -- Sequence of the change that wrote `state`, so a late retry never overwrites a newer one.
    sequence    integer     NOT NULL CHECK (sequence >= 1),
    status      text        NOT NULL,
    closed_at   timestamptz NOT NULL,
    keep_until  timestamptz NOT NULL CHECK (keep_until > closed_at)
);

CREATE INDEX request_records_by_keep_until ON request_records (keep_until);

-- The sealed PDF of each NOPIC of a closed request, as it was sealed: the file is in the document store.
CREATE TABLE certificate_pdfs (
    request_id   text        NOT NULL REFERENCES request_records (request_id),
    nopic_number text        NOT NULL CHECK (nopic_number ~ '^[0-9]{3}-[0-9]{10}-[0-9]{6}$'),
    -- The certificate's status the PDF shows (a cancelled NOPIC's PDF says so across the page).
    status       text        NOT NULL,
    sha256       text        NOT NULL REFERENCES documents (sha256),
    sealed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (request_id, nopic_number)
);
