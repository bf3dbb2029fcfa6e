-- Messages handed to the SMTP server, by the notification's event id: a retried activity whose first
-- attempt delivered (its completion lost to a dead worker or server) does not send the message again.
CREATE TABLE sent_messages (
    event_id   text        PRIMARY KEY,
    recipients text[]      NOT NULL,
    sent_at    timestamptz NOT NULL DEFAULT now()
);
