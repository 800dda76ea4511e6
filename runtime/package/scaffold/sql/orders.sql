-- The example DAG's table; idempotent, applied by its load task.
CREATE SCHEMA IF NOT EXISTS example;
CREATE TABLE IF NOT EXISTS example.orders (
  id     text PRIMARY KEY,
  day    date NOT NULL,
  amount numeric(12, 2) NOT NULL CHECK (amount >= 0)
);
