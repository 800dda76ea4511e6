-- clean_products: one run's ingested products into products_clean. $1 run_id.
-- A repeated product_id keeps its first line. Returns input, kept, duplicates.
WITH raw AS (
  SELECT r.*, row_number() OVER (PARTITION BY product_id ORDER BY line) AS copy
  FROM sales_stage.products_raw r WHERE r.run_id = $1
), kept AS (
  INSERT INTO sales_stage.products_clean (run_id, product_id, name, category, cost, price)
  SELECT run_id, product_id, btrim(name), btrim(category), cost, price FROM raw WHERE copy = 1
  RETURNING 1
), rejected AS (
  INSERT INTO sales_stage.rejects (run_id, stage, source, line, reason, record)
  SELECT run_id, 'clean', 'products.csv', line, 'duplicate product_id', product_id FROM raw WHERE copy > 1
  RETURNING 1
)
SELECT (SELECT count(*) FROM raw)::int AS input,
       (SELECT count(*) FROM kept)::int AS kept,
       (SELECT count(*) FROM rejected)::int AS duplicates
