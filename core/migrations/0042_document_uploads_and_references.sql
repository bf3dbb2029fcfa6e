-- Who uploaded each stored file, and when last: the store's record of who uploaded what, and what tells the
-- collector a file is still fresh (a file stored long ago and uploaded again today is not collected).
-- `uploaded_by` is the username (usernames never change).
CREATE TABLE document_uploads (
    sha256      text        NOT NULL REFERENCES documents (sha256) ON DELETE CASCADE,
    uploaded_by text        NOT NULL,
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (sha256, uploaded_by)
);

-- Which request refers to which stored file: written by the records activity from each recorded change
-- (every `sha256` in the audit event's payload). A stored file no request refers to is collected after the
-- grace period; one a request refers to is kept as long as the request's record.
CREATE TABLE document_references (
    sha256     text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    request_id text NOT NULL,
    PRIMARY KEY (sha256, request_id)
);

CREATE INDEX document_references_by_request ON document_references (request_id);

-- The references of the changes recorded before this migration.
INSERT INTO document_references (sha256, request_id)
SELECT DISTINCT found #>> '{}', request_id
FROM audit_events, jsonb_path_query(payload, 'strict $.**.sha256') AS found
WHERE jsonb_typeof(found) = 'string' AND (found #>> '{}') ~ '^[0-9a-f]{64}$'
ON CONFLICT DO NOTHING;
