-- claim_local: none -> running for successors the finishing worker runs itself at once
-- (eager dispatch: no queue round trip while it has free slots), each with its task_try row.
-- Parallel arrays: $1 run_id[], $2 task_id[], $4 dag_hash[] (the code version it will run); $3 hostname
WITH claimed AS (
  UPDATE weir.task_instance ti SET
    state = 'running', try_number = ti.try_number + 1, queued_at = now(), start_date = now(),
    end_date = NULL, duration_ms = NULL, heartbeat_at = now(), hostname = $3
  FROM unnest($1::text[], $2::text[], $4::text[]) AS c(run_id, task_id, dag_hash)
  WHERE ti.run_id = c.run_id AND ti.task_id = c.task_id AND ti.state = 'none'
  RETURNING ti.run_id, ti.task_id, ti.try_number, ti.max_tries, ti.start_date, c.dag_hash
), tried AS (
  INSERT INTO weir.task_try (run_id, task_id, try_number, state, start_date, hostname, dag_hash)
  SELECT run_id, task_id, try_number, 'running', start_date, $3, dag_hash FROM claimed
  ON CONFLICT (run_id, task_id, try_number) DO UPDATE SET state = 'running', start_date = EXCLUDED.start_date,
    end_date = NULL, duration_ms = NULL, error = NULL, error_stack = NULL, hostname = EXCLUDED.hostname, dag_hash = EXCLUDED.dag_hash
  RETURNING 1
)
SELECT run_id, task_id, try_number, max_tries FROM claimed
