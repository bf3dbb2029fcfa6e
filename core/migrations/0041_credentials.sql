-- API tokens expire (NOPIC_TOKEN_DAYS after they are issued). Tokens issued before this migration get the
-- default lifetime from now, so nobody is cut off by the upgrade itself.
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;
UPDATE api_tokens SET expires_at = now() + interval '90 days';
ALTER TABLE api_tokens ALTER COLUMN expires_at SET NOT NULL;

-- Failed sign-ins, counted per username ('user:<name>') and per client address ('address:<ip>'): after too
-- many in a row, sign-ins for that key wait until `blocked_until`, whether the password is right or not.
CREATE TABLE sign_in_failures (
    key             text        PRIMARY KEY,
    failures        integer     NOT NULL CHECK (failures >= 1),
    last_failure_at timestamptz NOT NULL,
    blocked_until   timestamptz
);

-- Failures an hour old are forgotten: each new failure deletes them, by this index.
CREATE INDEX sign_in_failures_by_last_failure ON sign_in_failures (last_failure_at);
