-- Which operation's requests may refer to a stored file, and whose exporters may read it. A file is the
-- uploading exporter's operation's; a reviewer's upload is the operation of the request it was uploaded
-- to, or the certifier's own (operation_id NULL) until a reviewer refers to it from a request, which grants
-- it to that request's operation. Files stored before this table have no row: see `web.action_checks`.
CREATE TABLE document_access (
    sha256       text        NOT NULL REFERENCES documents (sha256),
    operation_id text        CHECK (operation_id ~ '^[0-9]{10}$'),
    uploaded_by  bigint      REFERENCES users (user_id),
    by_reviewer  boolean     NOT NULL,
    granted_at   timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX document_access_once ON document_access (sha256, COALESCE(operation_id, ''), by_reviewer);
