-- register_worker: a worker announces itself, or what it has loaded after a DAG
-- reload. $1 worker_id, $2 hostname, $3 pid, $4 version, $5 queue, $6 concurrency,
-- $7 isolation, $8 lost_after_ms, $9 dags (JSON), $10 broken (JSON). Announced on
-- `weir_events` (`worker:<id>`) for the server's live events.
INSERT INTO weir.worker (worker_id, hostname, pid, version, queue, concurrency, isolation, lost_after_ms, dags, broken)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb)
ON CONFLICT (worker_id) DO UPDATE SET last_seen_at = now(), dags = EXCLUDED.dags, broken = EXCLUDED.broken
RETURNING pg_notify('weir_events', 'worker:' || worker_id) IS NULL AS announced
