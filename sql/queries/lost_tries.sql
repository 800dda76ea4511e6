-- lost_tries: running tries whose worker stopped sending heartbeats, with what ending
-- them needs (the run's queue) so the reaper ends them in one batch.
-- $1 lost-after (ms), $2 limit
SELECT ti.run_id, ti.task_id, ti.try_number, ti.max_tries, r.dag_id, r.queue,
  extract(epoch FROM (now() - ti.heartbeat_at)) * 1000 AS silent_ms, ti.hostname
FROM weir.task_instance ti JOIN weir.dag_run r ON r.run_id = ti.run_id
WHERE ti.state = 'running' AND ti.heartbeat_at < now() - make_interval(secs => $1::double precision / 1000)
ORDER BY ti.heartbeat_at
LIMIT $2
