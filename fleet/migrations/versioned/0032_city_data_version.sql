-- A counter the city service reads before answering from its cache of trip figures: every
-- statement that writes the trips table (the trip builder's batches, a rebuild, a TRUNCATE)
-- bumps it, in the writer's own transaction, so a cached figure is never served after the
-- trips under it changed. One row; a statement-level trigger costs one row update per
-- statement, not per trip.
CREATE TABLE city_data_version (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    version     bigint      NOT NULL DEFAULT 0,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO city_data_version (id, version) VALUES (true, 0) ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION city_bump_data_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE city_data_version SET version = version + 1, changed_at = now();
    RETURN NULL;
END
$$;

CREATE TRIGGER trips_bump_city_data_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON trips
    FOR EACH STATEMENT EXECUTE FUNCTION city_bump_data_version();
