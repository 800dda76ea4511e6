-- claim_task_instances: queued/up_for_retry -> running for the tries a worker fetched,
-- and queued -> running for their runs. A try that is not the expected next one
-- (cleared, cancelled, or claimed elsewhere) is not returned. (Its task_try row is
-- written by whatever ends it, or by the first log lines it ships.)
-- $1 run_id[], $2 task_id[], $3 try_number[] (parallel), $4 hostname, $5 claimable states (TASK_CLAIMABLE)
-- Each run touched is announced on `weir_events` (payload: the run id) at commit, for the server's live events.
WITH claimed AS (
  UPDATE weir.task_instance ti SET
    state = 'running', try_number = j.try_number, start_date = now(), end_date = NULL,
    duration_ms = NULL, heartbeat_at = now(), hostname = $4, handed_back = false
  FROM unnest($1::text[], $2::text[], $3::int[]) AS j(run_id, task_id, try_number)
  WHERE ti.run_id = j.run_id AND ti.task_id = j.task_id
    AND ti.state = ANY($5::weir.ti_state[]) AND ti.try_number = j.try_number - 1
  RETURNING ti.run_id, ti.task_id, ti.try_number, ti.max_tries, ti.start_date
), started AS (
  UPDATE weir.dag_run r SET state = 'running', start_date = coalesce(r.start_date, now())
  WHERE r.run_id IN (SELECT run_id FROM claimed) AND r.state = 'queued'
  RETURNING r.run_id
)
SELECT c.run_id, c.task_id, c.try_number, c.max_tries, c.start_date,
  r.dag_id, r.conf, r.logical_date, r.data_interval_start, r.data_interval_end, r.queue,
  pg_notify('weir_events', c.run_id) IS NULL AS announced
FROM claimed c JOIN weir.dag_run r ON r.run_id = c.run_id
