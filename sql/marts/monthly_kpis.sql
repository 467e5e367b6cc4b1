-- monthly_kpis: the monthly sales picture split into new and repeat customers.
-- Grain: one row per local calendar month, from the month of the first counted order to the
-- month containing as_of (months without orders are present with zeros).
-- A customer is "new" in the month of their first counted order and "repeat" in any later
-- month they order in; so customers = new_customers + repeat_customers and
-- sales = new_customer_sales + repeat_sales (a new customer's second order in their first
-- month is new-customer sales).
-- Columns:
--   month                Date32   first day of the local month
--   sales                Decimal  sum of amounts (exact)
--   orders               Int64    counted orders
--   customers            Int64    customers with ≥ 1 order in the month
--   new_customers        Int64    customers whose first order is in the month
--   repeat_customers     Int64    customers ordering in the month whose first order is in an earlier month
--   new_customer_sales   Decimal  sales of new_customers in the month
--   repeat_sales         Decimal  sales of repeat_customers in the month
--   average_order_value  Float64  sales / orders; NULL when orders = 0
--   is_partial           Boolean  true for the month containing as_of (still in progress)
-- Reads cohort_months (sql/state/cohort_months.sql): a customer is new in their cohort month.
WITH by_month AS (
    SELECT
        month_index,
        sum(sales) AS sales,
        sum(orders) AS orders,
        sum(customers) AS customers,
        sum(CASE WHEN month_index = cohort_index THEN customers ELSE 0 END) AS new_customers,
        sum(CASE WHEN month_index <> cohort_index THEN customers ELSE 0 END) AS repeat_customers,
        sum(CASE WHEN month_index = cohort_index THEN sales ELSE 0 END) AS new_customer_sales,
        sum(CASE WHEN month_index <> cohort_index THEN sales ELSE 0 END) AS repeat_sales
    FROM cohort_months
    GROUP BY month_index
),
calendar AS (
    SELECT unnest(range(first_index, {{ as_of_month_index }} + 1)) AS month_index
    FROM (SELECT min(month_index) AS first_index FROM by_month) bounds
    WHERE first_index IS NOT NULL
)
SELECT
    make_date(CAST(c.month_index / 12 AS INT), CAST(c.month_index % 12 + 1 AS INT), 1) AS month,
    COALESCE(b.sales, 0) AS sales,
    COALESCE(b.orders, 0) AS orders,
    COALESCE(b.customers, 0) AS customers,
    COALESCE(b.new_customers, 0) AS new_customers,
    COALESCE(b.repeat_customers, 0) AS repeat_customers,
    COALESCE(b.new_customer_sales, 0) AS new_customer_sales,
    COALESCE(b.repeat_sales, 0) AS repeat_sales,
    CAST(b.sales AS DOUBLE) / CAST(NULLIF(b.orders, 0) AS DOUBLE) AS average_order_value,
    c.month_index = {{ as_of_month_index }} AS is_partial
FROM calendar c
LEFT JOIN by_month b ON b.month_index = c.month_index
ORDER BY c.month_index
