-- 0002_isolation_reload_registry: what live DAG reloading, the worker registry and
-- "every try recorded" need (issue 9). A try's task_try row is written by whatever
-- ends it (the worker, a cancel, the reaper) or by the first log lines it ships.

-- A run keeps the shape it was created with: each task instance carries its own
-- downstream edges, so propagation never asks the (possibly newer) DAG file.
ALTER TABLE weir.task_instance ADD COLUMN downstream text[] NOT NULL DEFAULT '{}';
-- True while a try's job was handed back by a worker that cannot run its DAG; a
-- worker that can adopts it (claims it directly) as soon as it has the DAG.
ALTER TABLE weir.task_instance ADD COLUMN handed_back boolean NOT NULL DEFAULT false;
CREATE INDEX task_instance_handed_back ON weir.task_instance (run_id) WHERE handed_back;

-- The content hash and path (relative to the DAGs folder) of the DAG file a run was created from.
ALTER TABLE weir.dag_run ADD COLUMN dag_hash text;
ALTER TABLE weir.dag_run ADD COLUMN dag_file text;

-- The content hash of the DAG file whose code a try ran (the run's own may be older).
ALTER TABLE weir.task_try ADD COLUMN dag_hash text;

-- Workers register themselves; a row each, refreshed with every heartbeat.
CREATE TABLE weir.worker (
  worker_id text PRIMARY KEY,
  hostname text NOT NULL,
  pid integer NOT NULL,
  version text NOT NULL,
  queue text NOT NULL,
  concurrency integer NOT NULL,
  isolation text NOT NULL,
  -- A worker silent for longer than this is gone (its lostAfterMs).
  lost_after_ms integer NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  stopped_at timestamptz,
  running integer NOT NULL DEFAULT 0,
  -- [{dag_id, file, hash}] loaded, and [{file, error}] broken, on this worker.
  dags jsonb NOT NULL DEFAULT '[]',
  broken jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX worker_last_seen ON weir.worker (last_seen_at DESC);
