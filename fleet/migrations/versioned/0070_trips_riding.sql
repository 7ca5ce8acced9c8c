-- Riding behaviour (issue 18): harsh braking and harsh acceleration events per trip, counted
-- by the trip builder (fleet/behaviour.py, thresholds in the trip rules). NULL on trips built
-- before this migration, until `pogo trips --rebuild` recounts them.
ALTER TABLE trips
    ADD COLUMN harsh_braking      integer CHECK (harsh_braking >= 0),
    ADD COLUMN harsh_acceleration integer CHECK (harsh_acceleration >= 0);
