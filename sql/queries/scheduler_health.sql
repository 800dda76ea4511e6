-- scheduler_health: the latest heartbeat of any scheduler, and whether one is alive
-- (not stopped, seen within its lost-after time).
SELECT max(last_seen_at) AS latest_heartbeat,
  coalesce(bool_or(stopped_at IS NULL AND last_seen_at >= now() - make_interval(secs => lost_after_ms::double precision / 1000)), false) AS alive
FROM weir.scheduler
