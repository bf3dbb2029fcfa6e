-- The request list in one statement (page and total, issue 16): what its text filter and its newest-first
-- order read, measured by `make bench` (dashboard).

-- The product names as the text filter matches them: joined by U+001F (`request_product_text`, 0011) and
-- lowercased once, when the row is written. The filter is then a plain LIKE of lowercased text: rechecking
-- each row the trigram index finds no longer joins the array and lowercases it again, as ILIKE over the
-- expression index of 0011 did (a third of the time of each, for a word in 11% of the rows). Adding the
-- column rewrites the table once, filling it for every row already there.
ALTER TABLE requests ADD COLUMN product_text text NOT NULL
    GENERATED ALWAYS AS (lower(request_product_text(product_names))) STORED;

DROP INDEX requests_by_product_text;
CREATE INDEX requests_by_product_text ON requests USING gin (product_text gin_trgm_ops);

-- Newest first (`sort=received_at`): the page is read along this index, stopping after its rows, instead
-- of sorting every match.
CREATE INDEX requests_by_received_at ON requests (received_at);
