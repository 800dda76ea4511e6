-- dag_schedule_state: what a scheduler tick needs for one DAG: is it paused, and the
-- latest logical date a scheduled run was created for. $1 dag_id
SELECT coalesce((SELECT is_paused FROM weir.dag WHERE dag_id = $1), false) AS is_paused,
  (SELECT max(logical_date) FROM weir.dag_run WHERE dag_id = $1 AND run_type = 'scheduled') AS last_logical_date
