-- unregister_worker: a worker stopped cleanly, announced on `weir_events` (`worker:<id>`). $1 worker_id
UPDATE weir.worker SET stopped_at = now(), last_seen_at = now(), running = 0
WHERE worker_id = $1 AND stopped_at IS NULL
RETURNING pg_notify('weir_events', 'worker:' || worker_id) IS NULL AS announced
