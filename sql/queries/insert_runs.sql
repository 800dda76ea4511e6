-- insert_runs: create DAG runs of one DAG with all their task instances (state none);
-- a scheduled/backfill run whose (dag_id, logical_date) exists already is left alone
-- (exactly once, by construction). Each task instance keeps its downstream edges, so a
-- run keeps the shape it was created with when its DAG file changes.
-- $1 dag_id, $2 run_type, $3 queue, $4 unfinished (task count), $5 leaves (text[]),
-- $6 dag_hash, $7 dag_file;
-- runs, parallel arrays: $8 run_id[], $9 logical_date[], $10 data_interval_start[],
--   $11 data_interval_end[], $12 conf[] (JSON text), $18 note[] (NULL for none);
-- tasks, parallel arrays: $13 task_id[], $14 max_tries[], $15 trigger_rule[], $16 up_total[],
--   $17 downstream[] (JSON arrays of task ids), $19 map_over[] (a mapped task's list task, else NULL)
WITH runs AS (
  INSERT INTO weir.dag_run (run_id, dag_id, run_type, queue, unfinished, leaves, dag_hash, dag_file, logical_date, data_interval_start, data_interval_end, conf, note)
  SELECT r.run_id, $1, $2, $3, $4, $5, $6, $7, r.logical_date, r.data_interval_start, r.data_interval_end, r.conf::jsonb, r.note
  FROM unnest($8::text[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::text[], $18::text[])
    AS r(run_id, logical_date, data_interval_start, data_interval_end, conf, note)
  ORDER BY r.logical_date
  ON CONFLICT DO NOTHING
  RETURNING run_id
), shape AS (
  SELECT t.task_id, t.max_tries, t.trigger_rule, t.up_total,
    ARRAY(SELECT jsonb_array_elements_text(t.downstream::jsonb)) AS downstream, t.map_over
  FROM unnest($13::text[], $14::int[], $15::text[], $16::int[], $17::text[], $19::text[]) AS t(task_id, max_tries, trigger_rule, up_total, downstream, map_over)
), tasks AS (
  INSERT INTO weir.task_instance (run_id, task_id, max_tries, trigger_rule, up_total, downstream, map_over)
  SELECT runs.run_id, s.task_id, s.max_tries, s.trigger_rule, s.up_total, s.downstream, s.map_over
  FROM runs CROSS JOIN shape s
  RETURNING 1
)
SELECT run_id FROM runs
-- The DAG's new runs are announced once, as `dag:<dag_id>` on `weir_events`, however many they are.
WHERE (SELECT pg_notify('weir_events', 'dag:' || $1) IS NOT NULL) -- always true (void is not null)
