-- scheduler_heartbeat: a scheduler says it is alive (first call: it registers).
-- $1 scheduler_id, $2 hostname, $3 pid, $4 version, $5 lost_after_ms
INSERT INTO weir.scheduler (scheduler_id, hostname, pid, version, lost_after_ms)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (scheduler_id) DO UPDATE SET last_seen_at = now()
