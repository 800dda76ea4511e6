-- analyze_stage: fresh planner statistics for the staging tables once a stage has filled
-- them (a million new rows without statistics get nested-loop plans that take minutes).
ANALYZE sales_stage.orders_raw, sales_stage.customers_raw, sales_stage.products_raw,
        sales_stage.orders_clean, sales_stage.customers_clean, sales_stage.products_clean
