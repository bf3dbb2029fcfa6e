-- Supporting documents: the bytes live content-addressed under the documents directory; this is their metadata.
CREATE TABLE documents (
    sha256        text        PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    media_type    text        NOT NULL CHECK (media_type IN ('application/pdf', 'image/png', 'image/jpeg')),
    size_bytes    bigint      NOT NULL CHECK (size_bytes > 0),
    -- As the uploader named it, first upload wins; shown to people, never used as a path.
    original_name text        NOT NULL,
    stored_at     timestamptz NOT NULL DEFAULT now()
);
