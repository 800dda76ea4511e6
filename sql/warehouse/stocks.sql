-- stocks warehouse schema for the stock_prices DAG (example warehouse, not weir's own).
-- Idempotent: applied by the load task before every load (tasks/postgres.ts applySqlFile).
-- Parameters: none.
-- Prices are numeric (exact decimals as the API sends them), volume bigint;
-- extracted_at records when the row was first loaded (upserts leave it alone
-- unless the prices changed).
CREATE SCHEMA IF NOT EXISTS stocks;

CREATE TABLE IF NOT EXISTS stocks.daily_prices (
  symbol       text        NOT NULL,
  date         date        NOT NULL,
  open         numeric     NOT NULL,
  high         numeric     NOT NULL,
  low          numeric     NOT NULL,
  close        numeric     NOT NULL,
  volume       bigint      NOT NULL,
  extracted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (symbol, date),
  CONSTRAINT daily_prices_high_ge_low CHECK (high >= low),
  CONSTRAINT daily_prices_volume_non_negative CHECK (volume >= 0)
);
