-- 0013_task_mapping: dynamic task mapping (Airflow's expand()). A mapped task is created
-- with its run as one template instance carrying `map_over` (the upstream task whose list
-- it is mapped over). When it is ready, expand_mapped.sql replaces the template by one
-- instance per item, `task[i]`, each with `map_task` (the task) and `map_index` (i).
ALTER TABLE weir.task_instance ADD COLUMN map_over text, ADD COLUMN map_task text, ADD COLUMN map_index integer;
ALTER TABLE weir.task_instance ADD CONSTRAINT task_instance_map_index CHECK ((map_task IS NULL) = (map_index IS NULL));
