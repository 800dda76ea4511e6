-- Pools (Airflow's): at most `slots` tries of a pool's tasks run at once, across every
-- worker, counted in the database when a try is claimed (under the pool row's lock). A try
-- a worker fetched while its pool was full waits handed back, with the pool it waits for;
-- a pooled try's end (or `weir pools set`) wakes the workers to take it.
CREATE TABLE weir.pool (
  name         text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,63}$'),
  slots        integer NOT NULL CHECK (slots >= 0),
  description  text,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  updated_by   text NOT NULL
);
-- The pool a running try holds, and how many of its slots.
ALTER TABLE weir.task_instance ADD COLUMN pool text, ADD COLUMN pool_slots integer;
-- The pool a queued try waits for (handed back until a slot frees).
ALTER TABLE weir.task_instance ADD COLUMN waiting_pool text;
CREATE INDEX task_instance_pool_running ON weir.task_instance (pool) WHERE state = 'running' AND pool IS NOT NULL;
CREATE INDEX task_instance_waiting_pool ON weir.task_instance (waiting_pool) WHERE waiting_pool IS NOT NULL;
