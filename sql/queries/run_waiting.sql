-- run_waiting: why a run's ready tries are not running: how many of its task instances
-- wait for a worker (queued or handed back), how many live workers there are, how many of
-- them have its DAG loaded, and the errors of live workers on which its DAG file is broken;
-- and its running tries whose worker is gone (they wait for a worker with the DAG to reap
-- them); and its tries that wait for a pool slot, with the pool's size and the slots in
-- use (NULL size: the pool does not exist); and the task queues its queued tries are on
-- that no live worker works (`weir worker --queues`). $1 run_id
WITH run AS (
  SELECT run_id, dag_id, dag_file, queue FROM weir.dag_run WHERE run_id = $1
), live AS (
  SELECT w.* FROM weir.worker w
  WHERE w.stopped_at IS NULL AND w.last_seen_at >= now() - make_interval(secs => w.lost_after_ms::double precision / 1000)
)
SELECT
  (SELECT dag_id FROM run) AS dag_id, (SELECT queue FROM run) AS queue,
  (SELECT count(*) FROM weir.task_instance ti, run WHERE ti.run_id = run.run_id AND ti.state = 'queued')::int AS ready,
  (SELECT count(*) FROM weir.task_instance ti, run WHERE ti.run_id = run.run_id AND ti.handed_back)::int AS handed_back,
  (SELECT count(*) FROM live)::int AS alive,
  (SELECT count(*) FROM live, run WHERE run.queue = ANY(string_to_array(live.queue, ',')))::int AS on_queue,
  (SELECT count(*) FROM live, run WHERE run.queue = ANY(string_to_array(live.queue, ',')) AND live.dags @> jsonb_build_array(jsonb_build_object('dag_id', run.dag_id)))::int AS with_dag,
  ARRAY(
    SELECT DISTINCT replace(ti.queued_on, run.queue || '__', '') FROM weir.task_instance ti, run
    WHERE ti.run_id = run.run_id AND ti.state = 'queued' AND ti.queued_on IS NOT NULL AND ti.queued_on <> run.queue
      AND NOT EXISTS (SELECT 1 FROM live WHERE ti.queued_on = ANY(string_to_array(live.queue, ',')))
    ORDER BY 1
  ) AS unserved_queues,
  ARRAY(
    SELECT DISTINCT b->>'error' FROM live, run, jsonb_array_elements(live.broken) b
    WHERE b->>'file' = run.dag_file
  ) AS broken_errors,
  ARRAY(
    SELECT ti.task_id || ' on ' || ti.hostname FROM weir.task_instance ti, run
    WHERE ti.run_id = run.run_id AND ti.state = 'running'
      AND NOT EXISTS (SELECT 1 FROM live WHERE live.hostname || ':' || live.pid = ti.hostname)
      AND EXISTS (SELECT 1 FROM weir.worker w WHERE w.hostname || ':' || w.pid = ti.hostname)
    ORDER BY ti.task_id
  ) AS orphaned,
  coalesce((
    SELECT jsonb_agg(jsonb_build_object('task_id', ti.task_id, 'pool', ti.waiting_pool, 'slots', p.slots,
      'used', (SELECT coalesce(sum(x.pool_slots), 0) FROM weir.task_instance x WHERE x.state = 'running' AND x.pool = ti.waiting_pool)) ORDER BY ti.task_id)
    FROM weir.task_instance ti CROSS JOIN run LEFT JOIN weir.pool p ON p.name = ti.waiting_pool
    WHERE ti.run_id = run.run_id AND ti.handed_back AND ti.waiting_pool IS NOT NULL AND ti.state IN ('queued', 'up_for_retry')
  ), '[]'::jsonb) AS pool_waits
