-- clean_orders: one run's ingested orders into orders_clean. $1 run_id.
-- Rejected (into rejects, with the reason): no customer_id, quantity <= 0; then a line
-- repeating an earlier order_id is a duplicate (the first line wins). A missing discount
-- is 0. revenue = quantity × unit_price × (1 − discount), to the cent.
-- Returns input, kept, and the count per reason.
WITH raw AS (
  SELECT r.*, CASE WHEN r.customer_id IS NULL THEN 'customer_id missing'
                   WHEN r.quantity <= 0 THEN 'quantity not positive' END AS problem
  FROM sales_stage.orders_raw r WHERE r.run_id = $1
), ranked AS (
  SELECT raw.*, row_number() OVER (PARTITION BY order_id ORDER BY line) AS copy FROM raw WHERE problem IS NULL
), kept AS (
  INSERT INTO sales_stage.orders_clean (run_id, order_id, order_date, customer_id, product_id, quantity, unit_price, discount, channel, revenue)
  SELECT run_id, order_id, order_date, customer_id, product_id, quantity, unit_price, coalesce(discount, 0), channel,
         round(quantity * unit_price * (1 - coalesce(discount, 0)), 2)
  FROM ranked WHERE copy = 1
  RETURNING 1
), rejected AS (
  INSERT INTO sales_stage.rejects (run_id, stage, source, line, reason, record)
  SELECT run_id, 'clean', 'sales.csv', line, problem, order_id FROM raw WHERE problem IS NOT NULL
  UNION ALL
  SELECT run_id, 'clean', 'sales.csv', line, 'duplicate order_id', order_id FROM ranked WHERE copy > 1
  RETURNING reason
)
SELECT (SELECT count(*) FROM raw)::int AS input,
       (SELECT count(*) FROM kept)::int AS kept,
       (SELECT count(*) FROM raw WHERE discount IS NULL AND problem IS NULL)::int AS discounts_filled,
       coalesce((SELECT jsonb_object_agg(reason, n) FROM (SELECT reason, count(*)::int AS n FROM rejected GROUP BY reason) g), '{}'::jsonb) AS rejected
