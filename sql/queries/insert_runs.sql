-- insert_runs: create DAG runs of one DAG with all their task instances (state none);
-- a scheduled/backfill run whose (dag_id, logical_date) exists already is left alone
-- (exactly once, by construction).
-- $1 dag_id, $2 run_type, $3 queue, $4 unfinished (task count), $5 leaves (text[]);
-- runs, parallel arrays: $6 run_id[], $7 logical_date[], $8 data_interval_start[],
--   $9 data_interval_end[], $10 conf[] (JSON text);
-- tasks, parallel arrays: $11 task_id[], $12 max_tries[], $13 trigger_rule[], $14 up_total[]
WITH runs AS (
  INSERT INTO weir.dag_run (run_id, dag_id, run_type, queue, unfinished, leaves, logical_date, data_interval_start, data_interval_end, conf)
  SELECT r.run_id, $1, $2, $3, $4, $5, r.logical_date, r.data_interval_start, r.data_interval_end, r.conf::jsonb
  FROM unnest($6::text[], $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::text[])
    AS r(run_id, logical_date, data_interval_start, data_interval_end, conf)
  ORDER BY r.logical_date
  ON CONFLICT DO NOTHING
  RETURNING run_id
), tasks AS (
  INSERT INTO weir.task_instance (run_id, task_id, max_tries, trigger_rule, up_total)
  SELECT runs.run_id, t.task_id, t.max_tries, t.trigger_rule, t.up_total
  FROM runs CROSS JOIN unnest($11::text[], $12::int[], $13::text[], $14::int[]) AS t(task_id, max_tries, trigger_rule, up_total)
  RETURNING 1
)
SELECT run_id FROM runs
