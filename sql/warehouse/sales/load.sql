-- load: one run's clean rows and KPIs into sales.*, idempotently. $1 run_id.
-- New keys are inserted, rows whose values differ are updated, identical rows are left
-- alone: loading the same files again changes nothing. Returns per table the rows
-- staged, inserted and updated (unchanged = staged − inserted − updated).
WITH customers AS (
  INSERT INTO sales.customers AS t (customer_id, name, email, segment, country, signup_date)
  SELECT customer_id, name, email, segment, country, signup_date FROM sales_stage.customers_clean WHERE run_id = $1
  ON CONFLICT (customer_id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, segment = EXCLUDED.segment, country = EXCLUDED.country, signup_date = EXCLUDED.signup_date
  WHERE (t.name, t.email, t.segment, t.country, t.signup_date) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.email, EXCLUDED.segment, EXCLUDED.country, EXCLUDED.signup_date)
  RETURNING (xmax = 0) AS inserted
), products AS (
  INSERT INTO sales.products AS t (product_id, name, category, cost, price)
  SELECT product_id, name, category, cost, price FROM sales_stage.products_clean WHERE run_id = $1
  ON CONFLICT (product_id) DO UPDATE SET name = EXCLUDED.name, category = EXCLUDED.category, cost = EXCLUDED.cost, price = EXCLUDED.price
  WHERE (t.name, t.category, t.cost, t.price) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.category, EXCLUDED.cost, EXCLUDED.price)
  RETURNING (xmax = 0) AS inserted
), orders AS (
  INSERT INTO sales.orders AS t (order_id, order_date, customer_id, product_id, quantity, unit_price, discount, channel, revenue)
  SELECT order_id, order_date, customer_id, product_id, quantity, unit_price, discount, channel, revenue FROM sales_stage.orders_clean WHERE run_id = $1
  ON CONFLICT (order_id) DO UPDATE SET order_date = EXCLUDED.order_date, customer_id = EXCLUDED.customer_id, product_id = EXCLUDED.product_id, quantity = EXCLUDED.quantity,
    unit_price = EXCLUDED.unit_price, discount = EXCLUDED.discount, channel = EXCLUDED.channel, revenue = EXCLUDED.revenue
  WHERE (t.order_date, t.customer_id, t.product_id, t.quantity, t.unit_price, t.discount, t.channel, t.revenue)
    IS DISTINCT FROM (EXCLUDED.order_date, EXCLUDED.customer_id, EXCLUDED.product_id, EXCLUDED.quantity, EXCLUDED.unit_price, EXCLUDED.discount, EXCLUDED.channel, EXCLUDED.revenue)
  RETURNING (xmax = 0) AS inserted
), kpis AS (
  INSERT INTO sales.daily_kpis AS t (day, revenue, orders, avg_order_value, new_customers, returning_customers, by_category, by_channel, top_products)
  SELECT day, revenue, orders, avg_order_value, new_customers, returning_customers, by_category, by_channel, top_products FROM sales_stage.daily_kpis WHERE run_id = $1
  ON CONFLICT (day) DO UPDATE SET revenue = EXCLUDED.revenue, orders = EXCLUDED.orders, avg_order_value = EXCLUDED.avg_order_value, new_customers = EXCLUDED.new_customers,
    returning_customers = EXCLUDED.returning_customers, by_category = EXCLUDED.by_category, by_channel = EXCLUDED.by_channel, top_products = EXCLUDED.top_products
  WHERE (t.revenue, t.orders, t.avg_order_value, t.new_customers, t.returning_customers, t.by_category, t.by_channel, t.top_products)
    IS DISTINCT FROM (EXCLUDED.revenue, EXCLUDED.orders, EXCLUDED.avg_order_value, EXCLUDED.new_customers, EXCLUDED.returning_customers, EXCLUDED.by_category, EXCLUDED.by_channel, EXCLUDED.top_products)
  RETURNING (xmax = 0) AS inserted
)
SELECT t.name AS "table", t.staged::int, coalesce(c.inserted, 0)::int AS inserted, coalesce(c.updated, 0)::int AS updated FROM (VALUES
  ('sales.customers', (SELECT count(*) FROM sales_stage.customers_clean WHERE run_id = $1)),
  ('sales.products', (SELECT count(*) FROM sales_stage.products_clean WHERE run_id = $1)),
  ('sales.orders', (SELECT count(*) FROM sales_stage.orders_clean WHERE run_id = $1)),
  ('sales.daily_kpis', (SELECT count(*) FROM sales_stage.daily_kpis WHERE run_id = $1))
) AS t(name, staged)
LEFT JOIN (
  SELECT 'sales.customers' AS name, count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated FROM customers
  UNION ALL SELECT 'sales.products', count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM products
  UNION ALL SELECT 'sales.orders', count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM orders
  UNION ALL SELECT 'sales.daily_kpis', count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM kpis
) c USING (name)
