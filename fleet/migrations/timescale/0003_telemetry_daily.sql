-- TimescaleDB only. Daily per-vehicle figures as a continuous aggregate with the same name,
-- columns and meaning as the plain view (../plain/telemetry_daily.sql), real-time
-- (materialized_only = false) so both answer alike up to the last point.
DO $$
BEGIN
    IF to_regclass('telemetry_daily') IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM timescaledb_information.continuous_aggregates
        WHERE view_schema = current_schema() AND view_name = 'telemetry_daily'
    ) THEN
        DROP VIEW telemetry_daily;  -- the plain view, from before the extension was installed
    END IF;
END
$$;

-- Created empty (a refresh cannot run inside the upgrade's transaction): the upgrade refreshes
-- it over the whole history right after it commits, and a backfill does the same after its
-- writes (fleet.store.refresh_daily), so the aggregate always holds every stored day.
CREATE MATERIALIZED VIEW IF NOT EXISTS telemetry_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT vehicle_key,
       time_bucket(INTERVAL '1 day', ts) AS day,
       count(*)                          AS points,
       min(odometer_km)                  AS odometer_min_km,
       max(odometer_km)                  AS odometer_max_km,
       max(speed_kmh)                    AS max_speed_kmh,
       min(soc_pct)                      AS soc_min_pct,
       max(soc_pct)                      AS soc_max_pct,
       min(ts)                           AS first_ts,
       max(ts)                           AS last_ts
FROM telemetry
GROUP BY vehicle_key, time_bucket(INTERVAL '1 day', ts)
WITH NO DATA;

-- The policy refreshes the last POGO_DAILY_REFRESH_WINDOW_DAYS, which the settings hold above
-- POGO_INGEST_MAX_AGE_DAYS (every late point the ingester accepts falls inside it) and below the
-- retention horizon. Older days are materialised by the refreshes above and never recomputed
-- by the policy. Added once; altered only when the window setting changes.
DO $$
DECLARE
    wanted interval := make_interval(
        days => current_setting('pogo.daily_refresh_window_days')::int);
    job record;
BEGIN
    SELECT j.job_id, j.config, (j.config ->> 'start_offset')::interval AS start_offset
    INTO job
    FROM timescaledb_information.jobs j
    JOIN timescaledb_information.continuous_aggregates c
      -- the jobs view names the aggregate itself, or (older releases) its materialisation
      ON (c.view_schema, c.view_name) = (j.hypertable_schema, j.hypertable_name)
      OR (c.materialization_hypertable_schema, c.materialization_hypertable_name)
         = (j.hypertable_schema, j.hypertable_name)
    WHERE j.proc_name = 'policy_refresh_continuous_aggregate'
      AND c.view_schema = current_schema() AND c.view_name = 'telemetry_daily';
    IF job.job_id IS NULL THEN
        PERFORM add_continuous_aggregate_policy(
            'telemetry_daily',
            start_offset      => wanted,
            end_offset        => INTERVAL '1 hour',
            schedule_interval => INTERVAL '30 minutes'
        );
        RAISE NOTICE 'pogo: daily aggregate policy added: refreshes the last %', wanted;
    ELSIF job.start_offset IS DISTINCT FROM wanted THEN
        PERFORM alter_job(job.job_id,
                          config => jsonb_set(job.config, '{start_offset}',
                                              to_jsonb(wanted::text)));
        RAISE NOTICE 'pogo: daily aggregate policy changed: refreshes the last % (was %)',
            wanted, job.start_offset;
    END IF;
END
$$;
