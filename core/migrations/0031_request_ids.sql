-- Every request id the service hands out, claimed here before its workflow starts: two submissions never
-- share one, however unlikely a collision of 64 random bits is.
CREATE TABLE request_ids (
    request_id text        PRIMARY KEY,
    claimed_by bigint      REFERENCES users (user_id),
    claimed_at timestamptz NOT NULL DEFAULT now()
);
