-- What the reviewers' queues flag a request for beyond its status (`domain.schedule.attention`): a grace
-- period running (and when it ends), items due before departure missing once it came, a move of the
-- customs deadline past the allowance waiting for a reviewer. Written with the rest of the row.
ALTER TABLE requests ADD COLUMN attention text[] NOT NULL DEFAULT '{}';
ALTER TABLE requests ADD COLUMN grace_until timestamptz;

CREATE INDEX requests_needing_attention ON requests USING gin (attention) WHERE attention <> '{}';
