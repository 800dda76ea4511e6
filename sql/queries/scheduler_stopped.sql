-- scheduler_stopped: a scheduler that stops says so. $1 scheduler_id
UPDATE weir.scheduler SET stopped_at = now(), last_seen_at = now() WHERE scheduler_id = $1 AND stopped_at IS NULL
