-- The QuickBooks backfill's raw tables (dags/qb_backfill.ts): one row per QBO entity, keyed
-- by its Id, the whole entity as `payload`, and where and when it was loaded from. A row is
-- rewritten only when its payload changes (then with the metadata of that load); loading
-- the same data again changes nothing, `ingested_at_utc` included.
CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE IF NOT EXISTS raw.qb_invoices (
  id text PRIMARY KEY,
  payload jsonb NOT NULL,
  last_updated_utc timestamptz NOT NULL,
  ingested_at_utc timestamptz NOT NULL,
  extract_window_start_utc timestamptz NOT NULL,
  extract_window_end_utc timestamptz NOT NULL,
  page_number integer NOT NULL,
  page_size integer NOT NULL,
  run_id text NOT NULL
);
CREATE TABLE IF NOT EXISTS raw.qb_customers (LIKE raw.qb_invoices INCLUDING ALL);
CREATE TABLE IF NOT EXISTS raw.qb_items (LIKE raw.qb_invoices INCLUDING ALL);
CREATE INDEX IF NOT EXISTS qb_invoices_last_updated ON raw.qb_invoices (last_updated_utc);
CREATE INDEX IF NOT EXISTS qb_customers_last_updated ON raw.qb_customers (last_updated_utc);
CREATE INDEX IF NOT EXISTS qb_items_last_updated ON raw.qb_items (last_updated_utc);
