-- vip_customers: the VIP list — customers with total spend ≥ vip_min_amount or ≥
-- vip_min_orders orders, ranked by total spend (ties: customer_id ascending), top vip_top_n
-- (defaults ¥80,000 / 5 orders / 100; all from [marts]).
-- Grain: one row per VIP customer (the customers with is_vip in customer_summary).
-- Columns:
--   vip_rank         Int64      1 = highest total spend
--   customer_id      Utf8       customer
--   total_amount     Decimal    total spend (exact)
--   order_count      Int64      counted orders
--   member_rank      Utf8       member rank (see customer_summary)
--   first_order_at   timestamp  first counted order
--   last_order_at    timestamp  latest counted order
--   birthday_month   Int32      1–12 from customers.birthday when a customers table has it, else NULL
SELECT
    cs.vip_rank,
    cs.customer_id,
    cs.total_amount,
    cs.order_count,
    cs.member_rank,
    cs.first_order_at,
    cs.last_order_at,
    {% if has_customer_birthdays %}b.birthday_month{% else %}CAST(NULL AS INT){% endif %} AS birthday_month
FROM customer_summary cs
{% if has_customer_birthdays %}LEFT JOIN (SELECT customer_id, CAST(max(date_part('month', CAST(birthday AS DATE))) AS INT) AS birthday_month FROM customers GROUP BY customer_id) b ON b.customer_id = cs.customer_id{% endif %}
WHERE cs.is_vip
ORDER BY cs.vip_rank
