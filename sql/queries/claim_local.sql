-- claim_local: none -> running for tasks the finishing worker runs itself at once (eager
-- dispatch: no queue round trip while it has free slots): successors of the tries it
-- ended, and the first tasks of runs its end admitted (those runs go queued -> running).
-- Returns what running each needs from its run.
-- Parallel arrays: $1 run_id[], $2 task_id[]; $3 hostname
-- Each run touched is announced on `weir_events` (payload: the run id) at commit, for the server's live events.
WITH claimed AS (
  UPDATE weir.task_instance ti SET
    state = 'running', try_number = ti.try_number + 1, queued_at = now(), start_date = now(),
    end_date = NULL, duration_ms = NULL, heartbeat_at = now(), hostname = $3
  FROM unnest($1::text[], $2::text[]) AS c(run_id, task_id)
  WHERE ti.run_id = c.run_id AND ti.task_id = c.task_id AND ti.state = 'none'
  RETURNING ti.run_id, ti.task_id, ti.try_number, ti.max_tries
), started AS (
  UPDATE weir.dag_run r SET state = 'running', start_date = coalesce(r.start_date, now())
  WHERE r.run_id IN (SELECT run_id FROM claimed) AND r.state = 'queued'
  RETURNING r.run_id
)
SELECT c.run_id, c.task_id, c.try_number, c.max_tries,
  r.dag_id, r.conf, r.logical_date, r.data_interval_start, r.data_interval_end, r.queue,
  pg_notify('weir_events', c.run_id) IS NULL AS announced
FROM claimed c JOIN weir.dag_run r ON r.run_id = c.run_id
