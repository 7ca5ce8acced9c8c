-- The city service filters trips by zone within a time window and reads fleet figures by
-- state; these indexes keep those reads off full scans.
CREATE INDEX IF NOT EXISTS trips_start_zone_idx ON trips (start_zone, start_ts)
    WHERE start_zone IS NOT NULL;
CREATE INDEX IF NOT EXISTS trips_end_zone_idx ON trips (end_zone, start_ts)
    WHERE end_zone IS NOT NULL;
CREATE INDEX IF NOT EXISTS programme_changes_programme_idx
    ON programme_changes (programme_id, change_id);
