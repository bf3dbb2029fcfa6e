-- The ledger of messages handed to the SMTP server, in two steps. SMTP delivers at least once, never exactly
-- once: a send cut off between the server's acceptance and the ledger's write cannot be told from one cut off
-- before it. So each attempt marks the message as being sent before its SMTP transaction, and as sent right
-- after the server's 250 to DATA; a later attempt that finds the first mark without the second sends again
-- (nothing is lost) and counts a possible repeat (same Message-ID, so clients and archives can de-duplicate).
--
-- A row is sent when `sent_at` is set; `recipients` is set with it and only with it, so a worker of the
-- previous version, which reads "recipients present" as sent and writes both at once, agrees with this one.
ALTER TABLE sent_messages
    ALTER COLUMN recipients DROP NOT NULL,
    ALTER COLUMN sent_at DROP NOT NULL,
    -- The activity attempt that last began an SMTP transaction for the message, and when; cleared when that
    -- transaction failed in a way that proves the message did not leave (no connection, or refused).
    ADD COLUMN sending_attempt integer,
    ADD COLUMN sending_at timestamptz,
    -- The attempt whose transaction the server accepted.
    ADD COLUMN sent_attempt integer,
    -- How many times an attempt began sending over an earlier attempt's mark that never became sent.
    ADD COLUMN possible_repeats integer NOT NULL DEFAULT 0,
    ADD CONSTRAINT sent_messages_recipients_when_sent CHECK ((sent_at IS NULL) = (recipients IS NULL));
