-- kpis_match_orders (a quality check's custom SQL): days whose stored revenue or order
-- count differs from the loaded orders'. $1 run_id (its days). Failing rows: those days.
SELECT k.day, k.revenue, o.revenue AS orders_revenue, k.orders, o.orders AS order_count
FROM sales.daily_kpis k
JOIN (SELECT order_date AS day, sum(revenue) AS revenue, count(*)::int AS orders FROM sales.orders GROUP BY order_date) o USING (day)
WHERE k.day IN (SELECT DISTINCT order_date FROM sales_stage.orders_clean WHERE run_id = $1)
  AND (k.revenue <> o.revenue OR k.orders <> o.orders)
