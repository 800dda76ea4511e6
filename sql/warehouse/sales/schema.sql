-- sales warehouse schema for the sales_daily DAG (example warehouse, not weir's own).
-- Idempotent: applied by the ingest task before every run (tasks/postgres.ts applySqlFile).
-- Parameters: none.
--
-- sales.*        what the business reads: orders, customers, products, daily KPIs.
-- sales_stage.*  one run's rows between stages, keyed by run_id (a retry replaces its
--                run's rows; rows of runs older than a day are purged by ingest).
CREATE SCHEMA IF NOT EXISTS sales;
CREATE SCHEMA IF NOT EXISTS sales_stage;

CREATE TABLE IF NOT EXISTS sales.customers (
  customer_id text PRIMARY KEY,
  name        text NOT NULL,
  email       text,
  segment     text NOT NULL,
  country     text NOT NULL,
  signup_date date NOT NULL
);

CREATE TABLE IF NOT EXISTS sales.products (
  product_id text PRIMARY KEY,
  name       text NOT NULL,
  category   text NOT NULL,
  cost       numeric(12, 2) NOT NULL,
  price      numeric(12, 2) NOT NULL
);

-- No foreign keys: an order for a product the catalogue lacks still loads, and the
-- referential check reports it (with the DAG's severity).
CREATE TABLE IF NOT EXISTS sales.orders (
  order_id    text PRIMARY KEY,
  order_date  date NOT NULL,
  customer_id text,
  product_id  text NOT NULL,
  quantity    integer NOT NULL,
  unit_price  numeric(12, 2) NOT NULL,
  discount    numeric(5, 4) NOT NULL,
  channel     text NOT NULL,
  revenue     numeric(14, 2) NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_date ON sales.orders (order_date);
CREATE INDEX IF NOT EXISTS orders_customer ON sales.orders (customer_id, order_date);

CREATE TABLE IF NOT EXISTS sales.daily_kpis (
  day                 date PRIMARY KEY,
  revenue             numeric(16, 2) NOT NULL,
  orders              integer NOT NULL,
  avg_order_value     numeric(14, 2) NOT NULL,
  new_customers       integer NOT NULL,
  returning_customers integer NOT NULL,
  by_category         jsonb NOT NULL,
  by_channel          jsonb NOT NULL,
  top_products        jsonb NOT NULL
);

CREATE UNLOGGED TABLE IF NOT EXISTS sales_stage.orders_raw (
  run_id      text NOT NULL,
  line        integer NOT NULL,
  order_id    text NOT NULL,
  order_date  date NOT NULL,
  customer_id text,
  product_id  text NOT NULL,
  quantity    integer NOT NULL,
  unit_price  numeric(12, 2) NOT NULL,
  discount    numeric(5, 4),
  channel     text NOT NULL,
  PRIMARY KEY (run_id, line)
);

CREATE UNLOGGED TABLE IF NOT EXISTS sales_stage.customers_raw (
  run_id      text NOT NULL,
  line        integer NOT NULL,
  customer_id text NOT NULL,
  name        text NOT NULL,
  email       text,
  segment     text NOT NULL,
  country     text NOT NULL,
  signup_date date NOT NULL,
  PRIMARY KEY (run_id, line)
);

CREATE UNLOGGED TABLE IF NOT EXISTS sales_stage.products_raw (
  run_id     text NOT NULL,
  line       integer NOT NULL,
  product_id text NOT NULL,
  name       text NOT NULL,
  category   text NOT NULL,
  cost       numeric(12, 2) NOT NULL,
  price      numeric(12, 2) NOT NULL,
  PRIMARY KEY (run_id, line)
);

CREATE UNLOGGED TABLE IF NOT EXISTS sales_stage.orders_clean (LIKE sales.orders);
ALTER TABLE sales_stage.orders_clean ADD COLUMN IF NOT EXISTS run_id text NOT NULL;
CREATE INDEX IF NOT EXISTS orders_clean_run ON sales_stage.orders_clean (run_id, order_id);
CREATE UNLOGGED TABLE IF NOT EXISTS sales_stage.customers_clean (LIKE sales.customers);
ALTER TABLE sales_stage.customers_clean ADD COLUMN IF NOT EXISTS run_id text NOT NULL;
CREATE UNLOGGED TABLE IF NOT EXISTS sales_stage.products_clean (LIKE sales.products);
ALTER TABLE sales_stage.products_clean ADD COLUMN IF NOT EXISTS run_id text NOT NULL;
CREATE UNLOGGED TABLE IF NOT EXISTS sales_stage.daily_kpis (LIKE sales.daily_kpis);
ALTER TABLE sales_stage.daily_kpis ADD COLUMN IF NOT EXISTS run_id text NOT NULL;

-- Every row a stage set aside, and why: what the summary and the alert count.
CREATE TABLE IF NOT EXISTS sales_stage.rejects (
  run_id   text NOT NULL,
  stage    text NOT NULL,
  source   text NOT NULL,
  line     integer,
  reason   text NOT NULL,
  record   text
);
CREATE INDEX IF NOT EXISTS rejects_run ON sales_stage.rejects (run_id);

-- Which runs have rows staged, since when (purge_stage.sql).
CREATE TABLE IF NOT EXISTS sales_stage.runs (
  run_id    text PRIMARY KEY,
  staged_at timestamptz NOT NULL DEFAULT now()
);
