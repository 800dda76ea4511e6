-- scheduler_delays: for each DAG in $1, how long after its data interval ended its latest
-- scheduled run was created (seconds), read from the dag_run_interval_key index. $1 dag_id[]
SELECT d.dag_id, extract(epoch FROM (r.created_at - r.data_interval_end))::float8 AS delay_s
FROM unnest($1::text[]) AS d(dag_id)
CROSS JOIN LATERAL (
  SELECT created_at, data_interval_end FROM weir.dag_run
  WHERE dag_id = d.dag_id AND run_type IN ('scheduled', 'backfill') AND run_type = 'scheduled' -- the IN matches the index's predicate
  ORDER BY logical_date DESC LIMIT 1
) r
