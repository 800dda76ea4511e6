-- Data-aware runs (Airflow's assets): a task that declares `produces` records an asset
-- event when a try of it succeeds (in the transaction that records the success), and
-- queues it for every DAG registered as consuming that asset (`trigger.assets`, kept in
-- asset_consumer by the schedulers). A scheduler turns a consumer's queue into one run
-- (run_type 'asset') once every asset it waits for has an event queued, deleting the
-- queued rows in the same transaction: each event starts at most one run per consumer.
CREATE TABLE weir.asset_event (
  id          bigserial PRIMARY KEY,
  asset       text NOT NULL,
  dag_id      text NOT NULL,
  run_id      text NOT NULL,
  task_id     text NOT NULL,
  try_number  integer NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX asset_event_asset ON weir.asset_event (asset, id DESC);

CREATE TABLE weir.asset_consumer (
  asset   text NOT NULL,
  dag_id  text NOT NULL,
  PRIMARY KEY (asset, dag_id)
);

CREATE TABLE weir.asset_queue (
  dag_id    text NOT NULL,
  asset     text NOT NULL,
  event_id  bigint NOT NULL REFERENCES weir.asset_event (id) ON DELETE CASCADE,
  PRIMARY KEY (dag_id, asset, event_id)
);

ALTER TABLE weir.dag_run DROP CONSTRAINT dag_run_run_type_check;
ALTER TABLE weir.dag_run ADD CONSTRAINT dag_run_run_type_check CHECK (run_type IN ('manual', 'scheduled', 'backfill', 'test', 'file', 'asset'));
