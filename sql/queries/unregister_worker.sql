-- unregister_worker: a worker stopped cleanly. $1 worker_id
UPDATE weir.worker SET stopped_at = now(), last_seen_at = now(), running = 0
WHERE worker_id = $1 AND stopped_at IS NULL
