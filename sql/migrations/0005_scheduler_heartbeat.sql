-- Schedulers keep a heartbeat row, as workers do, so health reports can say whether
-- one is alive (the server's /api/v2/monitor/health).
CREATE TABLE weir.scheduler (
  scheduler_id text PRIMARY KEY,
  hostname text NOT NULL,
  pid integer NOT NULL,
  version text NOT NULL,
  -- A scheduler silent for longer than this is gone (three safety ticks).
  lost_after_ms integer NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  stopped_at timestamptz
);
CREATE INDEX scheduler_last_seen ON weir.scheduler (last_seen_at DESC);
