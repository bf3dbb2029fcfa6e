-- The mail queue (issue 16): each message a request's state change causes, written by the workflow task that
-- made the change, and sent after it by an activity, outside any person's action. Sent or not is the
-- ledger's to say (`sent_messages`, by the same event id); a message no attempt can deliver (an address the
-- server refuses) is marked given up here, with the server's reason, and the request goes on.
CREATE TABLE mail_queue (
    event_id        text        PRIMARY KEY,
    request_id      text        NOT NULL,
    notification    jsonb       NOT NULL,
    queued_at       timestamptz NOT NULL DEFAULT now(),
    given_up_at     timestamptz,
    given_up_reason text,
    CONSTRAINT mail_queue_given_up_with_reason CHECK ((given_up_at IS NULL) = (given_up_reason IS NULL))
);

-- A request's messages, for its page and its record.
CREATE INDEX mail_queue_by_request ON mail_queue (request_id, queued_at);
