-- State between runs (ctx.state, `weir state`): a small per-DAG key/value store of JSON
-- values, written in the transaction that records a try's success (a failed try never
-- moves a watermark), or by hand. updated_by names the try (run/task/try) or 'cli'.
CREATE TABLE weir.dag_state (
  dag_id text NOT NULL,
  key text NOT NULL,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by text NOT NULL,
  PRIMARY KEY (dag_id, key)
);

-- Deadline alerts: when a run's deadline alert was sent (at most once per run).
ALTER TABLE weir.dag_run ADD COLUMN deadline_alerted_at timestamptz;
