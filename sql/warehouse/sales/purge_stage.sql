-- purge_stage: start a run's staging over (a retry replaces its rows) and forget the rows
-- of runs staged over a day ago. $1 run_id. One statement: each CTE empties one table.
WITH old AS (
  DELETE FROM sales_stage.runs WHERE run_id <> $1 AND staged_at < now() - interval '1 day' RETURNING run_id
), gone AS (
  SELECT $1::text AS run_id UNION SELECT run_id FROM old
), mine AS (
  INSERT INTO sales_stage.runs (run_id) VALUES ($1) ON CONFLICT (run_id) DO UPDATE SET staged_at = now()
),
   a AS (DELETE FROM sales_stage.orders_raw WHERE run_id IN (SELECT run_id FROM gone)),
   b AS (DELETE FROM sales_stage.customers_raw WHERE run_id IN (SELECT run_id FROM gone)),
   c AS (DELETE FROM sales_stage.products_raw WHERE run_id IN (SELECT run_id FROM gone)),
   d AS (DELETE FROM sales_stage.orders_clean WHERE run_id IN (SELECT run_id FROM gone)),
   e AS (DELETE FROM sales_stage.customers_clean WHERE run_id IN (SELECT run_id FROM gone)),
   f AS (DELETE FROM sales_stage.products_clean WHERE run_id IN (SELECT run_id FROM gone)),
   g AS (DELETE FROM sales_stage.daily_kpis WHERE run_id IN (SELECT run_id FROM gone))
DELETE FROM sales_stage.rejects WHERE run_id IN (SELECT run_id FROM gone)
