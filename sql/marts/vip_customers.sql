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
--   next_birthday    Date32     the next birthday on or after as_of's local date (as_of's date itself
--                               when the birthday is that day); a 29 February birthday falls on
--                               28 February in a year without one. NULL without a birthday
--   days_to_birthday Int64      local calendar days from as_of's date to next_birthday (0 = today)
{% if has_customer_birthdays %}
-- A birthday's occurrence in year y: its month and day, 29 February moved to 28 February
-- when y has no 29 February. This year's (as_of's local year) unless it is before as_of's
-- date, else next year's. feb_this / feb_next: the last day of February in those years.
{% set y = as_of_year %}{% set feb_this = 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28 %}{% set y = as_of_year + 1 %}{% set feb_next = 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28 %}
WITH vips AS (
    SELECT customer_id FROM customer_summary WHERE is_vip
),
-- Birthdays of the VIPs only: the customer master is joined to the few VIPs first.
born AS (
    SELECT
        c.customer_id,
        CAST(date_part('month', max(CAST(c.birthday AS DATE))) AS INT) AS m,
        CAST(date_part('day', max(CAST(c.birthday AS DATE))) AS INT) AS d
    FROM customers c
    JOIN vips v ON v.customer_id = c.customer_id
    GROUP BY c.customer_id
),
occurrences AS (
    SELECT
        customer_id,
        m,
        make_date({{ as_of_year }}, m, CASE WHEN m = 2 AND d = 29 THEN {{ feb_this }} ELSE d END) AS this_year,
        make_date({{ as_of_year + 1 }}, m, CASE WHEN m = 2 AND d = 29 THEN {{ feb_next }} ELSE d END) AS next_year
    FROM born
),
birthdays AS (
    SELECT
        customer_id,
        m AS birthday_month,
        CASE WHEN this_year >= {{ as_of_date }} THEN this_year ELSE next_year END AS next_birthday
    FROM occurrences
)
{% endif %}SELECT
    cs.vip_rank,
    cs.customer_id,
    cs.total_amount,
    cs.order_count,
    cs.member_rank,
    cs.first_order_at,
    cs.last_order_at,
    {% if has_customer_birthdays %}b.birthday_month{% else %}CAST(NULL AS INT){% endif %} AS birthday_month,
    {% if has_customer_birthdays %}b.next_birthday{% else %}CAST(NULL AS DATE){% endif %} AS next_birthday,
    {% if has_customer_birthdays %}CAST(CAST(b.next_birthday AS INT) - CAST({{ as_of_date }} AS INT) AS BIGINT){% else %}CAST(NULL AS BIGINT){% endif %} AS days_to_birthday
FROM customer_summary cs
{% if has_customer_birthdays %}LEFT JOIN birthdays b ON b.customer_id = cs.customer_id{% endif %}
WHERE cs.is_vip
ORDER BY cs.vip_rank
