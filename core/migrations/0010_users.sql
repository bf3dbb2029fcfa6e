-- People who use the service, and how they prove who they are.
-- Secrets are never stored: passwords as argon2 hashes, API tokens and session ids as their sha256.

CREATE TABLE users (
    user_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      text        NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    display_name  text        NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    role          text        NOT NULL CHECK (role IN ('exporter', 'reviewer', 'admin')),
    -- An exporter acts for exactly one operation (its NOP operation ID); other roles for none.
    operation_id  text        CHECK (operation_id ~ '^[0-9]{10}$'),
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    CHECK ((role = 'exporter') = (operation_id IS NOT NULL))
);

CREATE TABLE api_tokens (
    token_sha256 text        PRIMARY KEY CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
    user_id      bigint      NOT NULL REFERENCES users (user_id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

CREATE TABLE sessions (
    session_sha256 text        PRIMARY KEY CHECK (session_sha256 ~ '^[0-9a-f]{64}$'),
    user_id        bigint      NOT NULL REFERENCES users (user_id),
    -- Sent back in every dashboard form; a POST without it is refused.
    csrf_token     text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);

CREATE INDEX sessions_by_user ON sessions (user_id);

-- A client-supplied idempotency key names one request per user: a retried submission finds it again.
CREATE TABLE submission_keys (
    user_id      bigint      NOT NULL REFERENCES users (user_id),
    key          text        NOT NULL,
    request_id   text        NOT NULL UNIQUE,
    body_sha256  text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
