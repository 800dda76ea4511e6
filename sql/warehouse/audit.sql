-- The audit table of pipeline steps (weir/tasks/audit withAudit): one row per step run,
-- success or failure, for reports and alerts to query. Idempotent. Parameters: none.
CREATE SCHEMA IF NOT EXISTS audit;

CREATE TABLE IF NOT EXISTS audit.step_log (
  id            bigserial PRIMARY KEY,
  dag_id        text NOT NULL,
  run_id        text NOT NULL,
  task_id       text NOT NULL,
  try_number    integer NOT NULL,
  step          text NOT NULL,
  source        text,
  target        text,
  started_at    timestamptz NOT NULL,
  finished_at   timestamptz NOT NULL,
  duration_ms   integer NOT NULL,
  status        text NOT NULL CHECK (status IN ('success', 'failed')),
  rows_in       bigint,
  rows_out      bigint,
  rows_affected bigint,
  error         text
);
CREATE INDEX IF NOT EXISTS step_log_run ON audit.step_log (run_id, step);
CREATE INDEX IF NOT EXISTS step_log_started ON audit.step_log (started_at DESC);
