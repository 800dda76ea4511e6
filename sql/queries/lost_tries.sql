-- lost_tries: running tries whose worker stopped sending heartbeats, with what ending
-- them needs (the run's queue) so the reaper ends them in one batch. A try is lost
-- when its heartbeat is older than the lost-after of the worker that runs it (its
-- newest registry row for the host:pid that ti.hostname holds): a worker with a
-- shorter WEIR_TASK_LOST_AFTER_MS never reaps the tries of one that heartbeats less
-- often. $1 (the reaper's own lost-after) stands in for a try whose worker has no row.
-- The registry is read once (a hash join), not once per running try.
-- $1 lost-after (ms), $2 limit
SELECT ti.run_id, ti.task_id, ti.try_number, ti.max_tries, r.dag_id, r.queue,
  extract(epoch FROM (now() - ti.heartbeat_at)) * 1000 AS silent_ms, ti.hostname
FROM weir.task_instance ti
JOIN weir.dag_run r ON r.run_id = ti.run_id
LEFT JOIN (
  SELECT DISTINCT ON (hostname, pid) hostname || ':' || pid AS host, lost_after_ms
  FROM weir.worker
  ORDER BY hostname, pid, started_at DESC
) w ON w.host = ti.hostname
WHERE ti.state = 'running'
  AND ti.heartbeat_at < now() - make_interval(secs => coalesce(w.lost_after_ms, $1)::double precision / 1000)
ORDER BY ti.heartbeat_at
LIMIT $2
