-- Trips and emissions (issue 5): the Benguerir zones and the trip builder's extra columns.

-- The zones of fleet/data/benguerir_zones.geojson, as WKT (lon/lat, WGS84). Overlapping zones:
-- the lowest sort containing a point names it. Operators edit this table; the builder reads it.
INSERT INTO zones (zone_id, name, kind, polygon_wkt, sort) VALUES
    ('charging_campus', 'Charging station — UM6P campus', 'charging',
     'POLYGON ((-7.980637 32.235461, -7.979363 32.235461, -7.979363 32.236539, -7.980637 32.236539, -7.980637 32.235461))',
     10),
    ('charging_centre', 'Charging station — city centre', 'charging',
     'POLYGON ((-7.954637 32.237461, -7.953363 32.237461, -7.953363 32.238539, -7.954637 32.238539, -7.954637 32.237461))',
     11),
    ('charging_station', 'Charging station — railway station', 'charging',
     'POLYGON ((-7.932637 32.240461, -7.931363 32.240461, -7.931363 32.241539, -7.932637 32.241539, -7.932637 32.240461))',
     12),
    ('um6p_campus', 'UM6P campus', 'campus',
     'POLYGON ((-7.992 32.224, -7.972 32.224, -7.972 32.246, -7.992 32.246, -7.992 32.224))',
     20),
    ('city_centre', 'City centre', 'centre',
     'POLYGON ((-7.962 32.231, -7.946 32.231, -7.946 32.245, -7.962 32.245, -7.962 32.231))',
     21),
    ('railway_station', 'Railway station', 'station',
     'POLYGON ((-7.937 32.237, -7.927 32.237, -7.927 32.245, -7.937 32.245, -7.937 32.237))',
     22),
    ('residential_north', 'Residential quarter — north', 'residential',
     'POLYGON ((-7.968 32.248, -7.942 32.248, -7.942 32.262, -7.968 32.262, -7.968 32.248))',
     30),
    ('residential_south', 'Residential quarter — south', 'residential',
     'POLYGON ((-7.964 32.216, -7.94 32.216, -7.94 32.228, -7.964 32.228, -7.964 32.216))',
     31),
    ('residential_east', 'Residential quarter — east', 'residential',
     'POLYGON ((-7.944 32.229, -7.938 32.229, -7.938 32.247, -7.944 32.247, -7.944 32.229))',
     32)
ON CONFLICT (zone_id) DO NOTHING;

-- Why fixes were dropped inside each trip, by reason ({"hdop": 2, "jump": 1, ...}).
ALTER TABLE trips ADD COLUMN dropped_by_reason jsonb NOT NULL DEFAULT '{}'::jsonb;
-- Whether energy_kwh was measured (SoC drop x capacity); when false the CO2 used the
-- profile's assumed kWh/km and energy_kwh is NULL.
ALTER TABLE trips ADD COLUMN energy_measured boolean NOT NULL DEFAULT false;

-- The builder deletes and rewrites the trips of a vehicle from a time on.
CREATE INDEX trips_vehicle_end_idx ON trips (vehicle_key, end_ts);

-- Exact conversions between timestamptz and integer milliseconds since the Unix epoch: the
-- builder works in int64 ms (numpy), the tables in timestamptz.
CREATE FUNCTION pogo_ms(timestamptz) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT floor(extract(epoch FROM $1) * 1000)::bigint $$;
CREATE FUNCTION pogo_ts(bigint) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT 'epoch'::timestamptz + $1 * interval '1 millisecond' $$;
