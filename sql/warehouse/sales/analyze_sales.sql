-- analyze_sales: fresh planner statistics for sales.* after a load, before the checks read it.
ANALYZE sales.orders, sales.customers, sales.products, sales.daily_kpis
