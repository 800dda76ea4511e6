-- 0001_init: weir's own schema. Run and task-instance state live here, never in
-- pg-boss's tables (pg-boss only carries task executions between processes).
-- Applied by `weir db migrate` in one transaction under an advisory lock.

CREATE SCHEMA IF NOT EXISTS weir;

-- Mirrors runtime/states.ts (RunState, TaskState).
CREATE TYPE weir.run_state AS ENUM ('queued', 'running', 'success', 'failed');
CREATE TYPE weir.ti_state AS ENUM (
  'none', 'scheduled', 'queued', 'running', 'success', 'failed',
  'up_for_retry', 'upstream_failed', 'skipped'
);

CREATE TABLE weir.dag (
  dag_id text PRIMARY KEY,
  is_paused boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE weir.dag_run (
  run_id text PRIMARY KEY,
  dag_id text NOT NULL,
  run_type text NOT NULL CHECK (run_type IN ('manual', 'scheduled', 'backfill', 'test')),
  state weir.run_state NOT NULL DEFAULT 'queued',
  -- false while the run waits for a slot under the DAG's maxActiveRuns.
  admitted boolean NOT NULL DEFAULT false,
  logical_date timestamptz NOT NULL,
  data_interval_start timestamptz NOT NULL,
  data_interval_end timestamptz NOT NULL,
  conf jsonb NOT NULL DEFAULT '{}',
  -- pg-boss queue that carries this run's task executions.
  queue text NOT NULL DEFAULT 'weir_task',
  -- Task instances not finished yet; the completion that brings it to 0 ends the run.
  unfinished integer NOT NULL,
  leaves text[] NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  start_date timestamptz,
  end_date timestamptz,
  note text
);
-- Exactly once: one scheduled/backfill run per (dag_id, logical_date), by construction.
CREATE UNIQUE INDEX dag_run_interval_key ON weir.dag_run (dag_id, logical_date) WHERE run_type IN ('scheduled', 'backfill');
CREATE INDEX dag_run_dag_created ON weir.dag_run (dag_id, created_at DESC);
CREATE INDEX dag_run_unfinished ON weir.dag_run (dag_id, state) WHERE state IN ('queued', 'running');

CREATE TABLE weir.task_instance (
  run_id text NOT NULL REFERENCES weir.dag_run ON DELETE CASCADE,
  task_id text NOT NULL,
  state weir.ti_state NOT NULL DEFAULT 'none',
  -- Airflow's words: try_number counts tries started; max_tries is the retries allowed.
  try_number integer NOT NULL DEFAULT 0,
  max_tries integer NOT NULL,
  trigger_rule text NOT NULL,
  -- Upstream outcomes so far, so a completion decides its successors without scanning or locking the run.
  up_total integer NOT NULL,
  up_success integer NOT NULL DEFAULT 0,
  up_failed integer NOT NULL DEFAULT 0,
  up_skipped integer NOT NULL DEFAULT 0,
  up_upstream_failed integer NOT NULL DEFAULT 0,
  output jsonb,
  queued_at timestamptz,
  start_date timestamptz,
  end_date timestamptz,
  duration_ms double precision,
  heartbeat_at timestamptz,
  hostname text,
  PRIMARY KEY (run_id, task_id)
);
CREATE INDEX task_instance_running_heartbeat ON weir.task_instance (heartbeat_at) WHERE state = 'running';

-- One row per try: start, end, error and log lines are kept for every attempt.
CREATE TABLE weir.task_try (
  run_id text NOT NULL,
  task_id text NOT NULL,
  try_number integer NOT NULL,
  state weir.ti_state NOT NULL,
  start_date timestamptz,
  end_date timestamptz,
  duration_ms double precision,
  error text,
  error_stack text,
  hostname text,
  logs jsonb NOT NULL DEFAULT '[]',
  PRIMARY KEY (run_id, task_id, try_number),
  FOREIGN KEY (run_id, task_id) REFERENCES weir.task_instance ON DELETE CASCADE
);
