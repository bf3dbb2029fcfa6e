-- Indexes for the request lists of the dashboard and `GET /requests`, measured by `make bench` (dashboard).

-- Text in a product name (`?product=...`): a trigram index turns `ILIKE '%text%'` from a scan of every row
-- into an index lookup.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- The names as one string, joined by the unit separator (U+001F), which no one types: a match of text
-- without it lies within one name. array_to_string is only STABLE in general (it calls each element type's
-- output function); over text[] it depends on its arguments alone, so this wrapper may be IMMUTABLE.
CREATE FUNCTION request_product_text(names text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT array_to_string(names, chr(31)) $$;

CREATE INDEX requests_by_product_text ON requests USING gin (request_product_text(product_names) gin_trgm_ops);

-- Late requests, soonest customs deadline first (the dashboard's default order).
CREATE INDEX requests_late_by_customs_deadline ON requests (customs_deadline) WHERE late;
