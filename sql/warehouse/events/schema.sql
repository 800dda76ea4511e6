-- events warehouse schema for the events_every_3_min DAG (example warehouse, not weir's own).
-- Idempotent: applied by the ingest task before every run. Parameters: none.
-- A message is stored once, by its id, however often the source delivers it.
CREATE SCHEMA IF NOT EXISTS events;

CREATE TABLE IF NOT EXISTS events.messages (
  message_id   text PRIMARY KEY,
  publish_time timestamptz NOT NULL,
  payload      jsonb NOT NULL,
  run_id       text NOT NULL,
  loaded_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS messages_publish_time ON events.messages (publish_time);

-- Messages whose data is not JSON: kept (and acked) rather than redelivered forever.
CREATE TABLE IF NOT EXISTS events.dead_letters (
  message_id   text PRIMARY KEY,
  publish_time timestamptz NOT NULL,
  data         text NOT NULL,
  reason       text NOT NULL,
  run_id       text NOT NULL
);
