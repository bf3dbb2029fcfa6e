-- The product-text filter with its total (issue 16), measured by `make bench` (dashboard): the text is
-- matched once per distinct text, in a small table, and the requests are then found by an integer id.
--
-- Until now every match was a row of `requests` found by the trigram index of 0060 and rechecked on the
-- heap: counting a word in 11% of 100,000 rows visited nearly every page of the table. Each request now
-- carries the id of its `product_text` (the names joined by U+001F and lowercased, as 0060 stores them) in
-- `product_texts`, where the trigram index is matched; a request has exactly one such id, so the total is a
-- count of ids in a btree, read index-only, never a count of distinct requests.

CREATE TABLE product_texts (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Not unique, on purpose: two writers that add the same new text at once may leave it twice, each
    -- request naming one of the two ids, which the filter matches alike. No writer waits for another, and
    -- a text of any length is allowed (a btree would refuse one past about 2.7 kB; hash keys have no limit).
    text text NOT NULL
);
CREATE INDEX product_texts_by_text ON product_texts USING hash (text);
CREATE INDEX product_texts_by_trigram ON product_texts USING gin (text gin_trgm_ops);

-- The id of the text of `names`, added to `product_texts` if no request had that text before. Texts no
-- request has any more (after a correction renamed a product) stay: they match no request.
CREATE FUNCTION request_product_text_id(names text[]) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    wanted text := lower(request_product_text(names));
    found_id integer;
BEGIN
    SELECT id INTO found_id FROM product_texts WHERE text = wanted LIMIT 1;
    IF found_id IS NULL THEN
        INSERT INTO product_texts (text) VALUES (wanted) RETURNING id INTO found_id;
    END IF;
    RETURN found_id;
END
$$;

-- A trigger, so every writer of `requests` (records_pg.py's upsert, a correction, a bulk load) keeps the id
-- in step with the names without knowing of it. BEFORE: the id is part of the row as it is written.
CREATE FUNCTION requests_follow_product_text() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.product_text_id := request_product_text_id(NEW.product_names);
    RETURN NEW;
END
$$;

ALTER TABLE requests ADD COLUMN product_text_id integer;
INSERT INTO product_texts (text) SELECT DISTINCT product_text FROM requests ORDER BY 1;
UPDATE requests r SET product_text_id = t.id FROM product_texts t WHERE t.text = r.product_text;
ALTER TABLE requests ALTER COLUMN product_text_id SET NOT NULL;

CREATE TRIGGER requests_product_text_on_insert BEFORE INSERT ON requests
    FOR EACH ROW EXECUTE FUNCTION requests_follow_product_text();
-- Only when the names change (the records' upsert sets them on every change), or someone sets the id itself.
CREATE TRIGGER requests_product_text_on_update BEFORE UPDATE OF product_names, product_text_id ON requests
    FOR EACH ROW
    WHEN (OLD.product_names IS DISTINCT FROM NEW.product_names
          OR OLD.product_text_id IS DISTINCT FROM NEW.product_text_id)
    EXECUTE FUNCTION requests_follow_product_text();

CREATE INDEX requests_by_product_text_id ON requests (product_text_id);
-- The filter no longer reads `product_text` through an index of its own; one index less to keep per write.
DROP INDEX requests_by_product_text;
