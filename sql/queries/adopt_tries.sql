-- adopt_tries: handed-back tries of DAGs this worker has loaded: queued/up_for_retry ->
-- running, claimed by this worker directly (their jobs are gone), and their runs started.
-- Oldest first, at most $3. $1 dag_id[], $2 hostname, $3 limit
WITH candidates AS (
  SELECT ti.run_id, ti.task_id
  FROM weir.task_instance ti
  JOIN weir.dag_run r ON r.run_id = ti.run_id
  WHERE ti.handed_back AND ti.state IN ('queued', 'up_for_retry') AND r.dag_id = ANY($1::text[])
  ORDER BY ti.queued_at NULLS FIRST
  LIMIT $3
  FOR UPDATE OF ti SKIP LOCKED
), claimed AS (
  UPDATE weir.task_instance ti SET
    state = 'running', try_number = ti.try_number + 1, start_date = now(), end_date = NULL,
    duration_ms = NULL, heartbeat_at = now(), hostname = $2, handed_back = false
  FROM candidates c
  WHERE ti.run_id = c.run_id AND ti.task_id = c.task_id AND ti.handed_back
  RETURNING ti.run_id, ti.task_id, ti.try_number, ti.max_tries, ti.start_date
), started AS (
  UPDATE weir.dag_run r SET state = 'running', start_date = coalesce(r.start_date, now())
  WHERE r.run_id IN (SELECT run_id FROM claimed) AND r.state = 'queued'
  RETURNING r.run_id
)
SELECT c.run_id, c.task_id, c.try_number, c.max_tries, c.start_date,
  r.dag_id, r.conf, r.logical_date, r.data_interval_start, r.data_interval_end, r.queue
FROM claimed c JOIN weir.dag_run r ON r.run_id = c.run_id
