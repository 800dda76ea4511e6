-- Data-quality check results (weir/tasks/quality), one row per check and try: kept
-- with the run, shown by `weir runs show`, `weir tasks checks` and the server's pages.
CREATE TABLE weir.check_result (
  run_id text NOT NULL REFERENCES weir.dag_run ON DELETE CASCADE,
  task_id text NOT NULL,
  try_number integer NOT NULL,
  position integer NOT NULL,
  name text NOT NULL,
  severity text NOT NULL CHECK (severity IN ('warn', 'error')),
  passed boolean NOT NULL,
  failing bigint NOT NULL,
  -- A few failing rows (JSON objects), for people to look at.
  sample jsonb NOT NULL DEFAULT '[]',
  checked_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, task_id, try_number, position)
);
