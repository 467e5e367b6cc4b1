-- vip_birthdays: the care list for birthday mail and gifts (誕生日DM) — the VIPs whose
-- birthday falls in the calendar month after as_of's local month (December → January of the
-- next year), soonest first. Built only with a customers dataset; without birthdays in it
-- the list is empty.
-- requires: customers
-- Grain: one row per VIP (vip_customers) with a birthday next month.
-- Columns:
--   birthday_date     Date32     the birthday next month (vip_customers.next_birthday; a
--                                29 February birthday is on 28 February in a year without one)
--   days_to_birthday  Int64      local calendar days from as_of's date to it
--   birthday_month    Int32      1–12, the month after as_of's
--   vip_rank          Int64      1 = highest total spend
--   customer_id       Utf8       customer
--   member_rank       Utf8       member rank (see customer_summary)
--   total_amount      Decimal    total spend (exact)
--   order_count       Int64      counted orders
--   last_order_at     timestamp  latest counted order
SELECT
    next_birthday AS birthday_date,
    days_to_birthday,
    birthday_month,
    vip_rank,
    customer_id,
    member_rank,
    total_amount,
    order_count,
    last_order_at
FROM vip_customers
WHERE birthday_month = CAST(date_part('month', {{ as_of_date }}) AS INT) % 12 + 1
ORDER BY next_birthday, vip_rank
