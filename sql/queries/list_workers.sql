-- list_workers: registered workers, newest first, each with whether it is alive
-- (seen within its lost-after time and not stopped). $1 limit
SELECT worker_id, hostname, pid, version, queue, concurrency, isolation, started_at, last_seen_at, stopped_at, running,
  dags, broken,
  CASE WHEN stopped_at IS NOT NULL THEN 'stopped'
       WHEN last_seen_at >= now() - make_interval(secs => lost_after_ms::double precision / 1000) THEN 'alive'
       ELSE 'gone' END AS status
FROM weir.worker
ORDER BY (stopped_at IS NULL AND last_seen_at >= now() - make_interval(secs => lost_after_ms::double precision / 1000)) DESC, last_seen_at DESC
LIMIT $1
