-- get_run: one run. $1 run_id
SELECT run_id, dag_id, run_type, state, admitted, logical_date, data_interval_start, data_interval_end, conf,
  queue, dag_hash, dag_file, created_at, start_date, end_date, (extract(epoch FROM (end_date - start_date)) * 1000)::float8 AS duration_ms, note
FROM weir.dag_run WHERE run_id = $1
