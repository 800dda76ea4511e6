-- paused_dags: the paused state of every DAG weir knows.
SELECT dag_id, is_paused FROM weir.dag
