-- transform_kpis: the business KPIs of every day this run's orders fall on, into
-- sales_stage.daily_kpis, computed over the orders as they will be once loaded (this
-- run's clean orders, and orders loaded before that this run does not replace). $1 run_id.
--   revenue, orders, avg_order_value
--   new_customers: customers whose first order ever is on that day; returning: the others
--   by_category, by_channel: revenue per key (a product missing from the catalogue is 'unknown')
--   top_products: the five products with the most revenue that day
-- Returns the days computed.
WITH drop_orders AS (
  SELECT order_id, order_date, customer_id, product_id, quantity, channel, revenue FROM sales_stage.orders_clean WHERE run_id = $1
), days AS (
  SELECT DISTINCT order_date AS day FROM drop_orders
), orders AS (
  SELECT * FROM drop_orders
  UNION ALL
  SELECT o.order_id, o.order_date, o.customer_id, o.product_id, o.quantity, o.channel, o.revenue FROM sales.orders o
  WHERE NOT EXISTS (SELECT 1 FROM drop_orders d WHERE d.order_id = o.order_id)
), catalogue AS (
  SELECT product_id, name, category FROM sales_stage.products_clean WHERE run_id = $1
  UNION ALL
  SELECT p.product_id, p.name, p.category FROM sales.products p
  WHERE NOT EXISTS (SELECT 1 FROM sales_stage.products_clean c WHERE c.run_id = $1 AND c.product_id = p.product_id)
), day_orders AS (
  SELECT o.*, coalesce(c.category, 'unknown') AS category, coalesce(c.name, o.product_id) AS product_name
  FROM orders o JOIN days ON days.day = o.order_date LEFT JOIN catalogue c USING (product_id)
), first_order AS (
  SELECT customer_id, min(order_date) AS first_day FROM orders
  WHERE customer_id IN (SELECT customer_id FROM day_orders) GROUP BY customer_id
), totals AS (
  SELECT order_date AS day, sum(revenue) AS revenue, count(*)::int AS orders,
         count(DISTINCT o.customer_id) FILTER (WHERE f.first_day = o.order_date)::int AS new_customers,
         count(DISTINCT o.customer_id) FILTER (WHERE f.first_day < o.order_date)::int AS returning_customers
  FROM day_orders o JOIN first_order f USING (customer_id) GROUP BY order_date
), categories AS (
  SELECT day, jsonb_object_agg(category, revenue ORDER BY category) AS by_category FROM (
    SELECT order_date AS day, category, sum(revenue) AS revenue FROM day_orders GROUP BY 1, 2) g GROUP BY day
), channels AS (
  SELECT day, jsonb_object_agg(channel, revenue ORDER BY channel) AS by_channel FROM (
    SELECT order_date AS day, channel, sum(revenue) AS revenue FROM day_orders GROUP BY 1, 2) g GROUP BY day
), products AS (
  SELECT day, jsonb_agg(jsonb_build_object('product_id', product_id, 'name', product_name, 'quantity', quantity, 'revenue', revenue) ORDER BY revenue DESC, product_id) AS top_products FROM (
    SELECT day, product_id, product_name, quantity, revenue, row_number() OVER (PARTITION BY day ORDER BY revenue DESC, product_id) AS rank FROM (
      SELECT order_date AS day, product_id, min(product_name) AS product_name, sum(quantity)::int AS quantity, sum(revenue) AS revenue FROM day_orders GROUP BY 1, 2) p
  ) r WHERE rank <= 5 GROUP BY day
), inserted AS (
  INSERT INTO sales_stage.daily_kpis (run_id, day, revenue, orders, avg_order_value, new_customers, returning_customers, by_category, by_channel, top_products)
  SELECT $1, t.day, t.revenue, t.orders, round(t.revenue / t.orders, 2), t.new_customers, t.returning_customers, c.by_category, ch.by_channel, p.top_products
  FROM totals t JOIN categories c USING (day) JOIN channels ch USING (day) JOIN products p USING (day)
  RETURNING day
)
SELECT coalesce(array_agg(to_char(day, 'YYYY-MM-DD') ORDER BY day), '{}') AS days FROM inserted
