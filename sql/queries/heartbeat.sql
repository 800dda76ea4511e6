-- heartbeat: the worker is alive (its registry row) and still runs these tries; tries
-- not returned were cancelled, cleared or declared lost and must be aborted.
-- $1 run_id[], $2 task_id[], $3 try_number[] (parallel), $4 worker_id
WITH seen AS (
  UPDATE weir.worker SET last_seen_at = now(), running = cardinality($1::text[])
  WHERE worker_id = $4
  RETURNING 1
)
UPDATE weir.task_instance ti SET heartbeat_at = now()
FROM unnest($1::text[], $2::text[], $3::int[]) AS h(run_id, task_id, try_number)
WHERE ti.run_id = h.run_id AND ti.task_id = h.task_id AND ti.try_number = h.try_number AND ti.state = 'running'
RETURNING ti.run_id, ti.task_id, ti.try_number
