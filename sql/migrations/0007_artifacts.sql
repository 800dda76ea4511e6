-- Artifacts of runs (weir/tasks/artifacts): files a try keeps, such as a report, stored
-- in weir's database so any server can serve them, whatever machine the worker ran on.
CREATE TABLE weir.artifact (
  run_id text NOT NULL REFERENCES weir.dag_run ON DELETE CASCADE,
  task_id text NOT NULL,
  try_number integer NOT NULL,
  name text NOT NULL,
  content_type text NOT NULL,
  content bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, task_id, try_number, name)
);
