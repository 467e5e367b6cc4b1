//! fan_matrix_movement and customer_movement on the generated shop (24 months, so a
//! 12-month movement has customers on both sides): every (from cell, to cell) pair's
//! customers, spend at as_of and sales in the period are what DuckDB computes from the
//! warehouse's ingested orders (tests/movement_duckdb.py, its own SQL and its own calendar
//! arithmetic for as_of − 12 months); summed by `to` cell they are fan_matrix; and the belt
//! only moves forward. The care lists too: lapsing_customers (every stage's P80 and every
//! lapsing customer) and the VIPs' next birthdays and vip_birthdays are what DuckDB computes
//! from the ingested orders and customers (tests/care_lists_duckdb.py).

use std::collections::BTreeMap;

use super::fixture::{python_json, rows, shop};

/// The JSON a DuckDB script under tests/ prints for the shop's warehouse.
/// A JSON row as the strings `rows` returns (`NULL` for null).
fn strings(row: &serde_json::Value) -> Vec<String> {
    row.as_array()
        .unwrap()
        .iter()
        .map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => "NULL".to_string(),
            other => other.to_string(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairs_are_what_duckdb_computes_from_the_orders() {
    let shop = shop().await;
    let warehouse = shop.root.join("warehouse");
    let expected = python_json(
        "movement_duckdb.py",
        &[warehouse.to_str().unwrap(), "Asia/Tokyo", "12"],
    );

    let instants = rows(
        "SELECT DISTINCT CAST(from_at AS BIGINT), CAST(to_at AS BIGINT), period_months \
         FROM fan_matrix_movement",
    )
    .await;
    assert_eq!(
        instants,
        [[
            expected["from_at_us"].to_string(),
            expected["as_of_us"].to_string(),
            "12".to_string()
        ]]
    );

    let ours = rows(
        "SELECT from_frequency_bucket, from_spend_bucket, to_frequency_bucket, to_spend_bucket, \
                customers, total_spend, period_sales \
         FROM fan_matrix_movement",
    )
    .await;
    let mut ours: Vec<Vec<String>> = ours;
    ours.sort();
    let mut theirs: Vec<Vec<String>> = expected["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .map(strings)
        .collect();
    theirs.sort();
    assert!(
        ours.len() > 20,
        "a 24-month shop fills many pairs: {ours:?}"
    );
    assert_eq!(ours, theirs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn to_cells_sum_to_the_fan_matrix_and_nobody_moves_down() {
    shop().await;
    let by_to = rows(
        "SELECT to_frequency_bucket, to_spend_bucket, sum(customers), sum(total_spend) \
         FROM fan_matrix_movement GROUP BY 1, 2",
    )
    .await;
    let by_to: BTreeMap<(String, String), (String, String)> = by_to
        .into_iter()
        .map(|r| ((r[0].clone(), r[1].clone()), (r[2].clone(), r[3].clone())))
        .collect();
    let matrix =
        rows("SELECT frequency_bucket, spend_bucket, customers, total_spend FROM fan_matrix").await;
    let mut occupied = 0;
    for r in &matrix {
        let key = (r[0].clone(), r[1].clone());
        match by_to.get(&key) {
            Some((c, s)) => {
                assert_eq!((c, s), (&r[2], &r[3]), "cell {key:?}");
                occupied += 1;
            }
            None => assert_eq!(r[2], "0", "cell {key:?} has customers but no movement row"),
        }
    }
    assert_eq!(occupied, by_to.len(), "every to cell is a fan_matrix cell");

    // Both axes are cumulative: every step is ≥ 0, 'same' is exactly zero steps, 'new'
    // comes from none; all three kinds occur in 24 months of a shop.
    let kinds = rows(
        "SELECT movement, min(frequency_steps), min(spend_steps), \
                max(CASE WHEN frequency_steps = 0 AND spend_steps = 0 THEN 1 ELSE 0 END), \
                min(CASE WHEN from_frequency_bucket = 'none' THEN 1 ELSE 0 END), sum(customers) \
         FROM fan_matrix_movement GROUP BY movement ORDER BY movement",
    )
    .await;
    let kinds: Vec<(&str, i64, i64, i64, i64)> = kinds
        .iter()
        .map(|r| {
            (
                r[0].as_str(),
                r[1].parse().unwrap(),
                r[2].parse().unwrap(),
                r[3].parse().unwrap(),
                r[4].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    let (new, same, up) = (kinds[0], kinds[1], kinds[2]);
    assert_eq!(new.0, "new");
    assert!(new.1 >= 1 && new.2 >= 1 && new.4 == 1, "{new:?}");
    assert_eq!(same.0, "same");
    assert_eq!((same.1, same.2, same.4), (0, 0, 0), "{same:?}");
    assert_eq!(up.0, "up");
    assert!(up.1 >= 0 && up.2 >= 0 && up.3 == 0 && up.4 == 0, "{up:?}");

    // Each from cell's transition rates add up to 1, and the per-customer table holds
    // the same customers as the pairs.
    let sums = rows(
        "SELECT from_frequency_bucket, from_spend_bucket, sum(transition_rate) \
         FROM fan_matrix_movement GROUP BY 1, 2",
    )
    .await;
    for r in &sums {
        let s: f64 = r[2].parse().unwrap();
        assert!((s - 1.0).abs() < 1e-9, "{r:?}");
    }
    let counts = rows(
        "SELECT (SELECT count(*) FROM customer_movement) AS per_customer, \
                (SELECT sum(customers) FROM fan_matrix_movement) AS pairs, \
                (SELECT count(*) FROM customer_summary) AS customers",
    )
    .await;
    assert_eq!(counts[0][0], counts[0][1]);
    assert_eq!(counts[0][0], counts[0][2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn care_lists_are_what_duckdb_computes_from_orders_and_customers() {
    let shop = shop().await;
    let warehouse = shop.root.join("warehouse");
    let expected = python_json(
        "care_lists_duckdb.py",
        &[warehouse.to_str().unwrap(), "Asia/Tokyo"],
    );
    let list = |key: &str| -> Vec<Vec<String>> {
        expected[key]
            .as_array()
            .unwrap()
            .iter()
            .map(strings)
            .collect()
    };

    // Every stage's P80 (DuckDB's quantile_cont) and how many next orders it is taken from.
    let stages = rows(
        "SELECT stage, min(stage_next_orders), min(stage_p80_days), max(stage_p80_days) \
         FROM lapsing_customers GROUP BY stage ORDER BY stage",
    )
    .await;
    let theirs = list("stages");
    assert_eq!(
        stages.len(),
        5,
        "every stage has lapsing customers: {stages:?}"
    );
    for (ours, theirs) in stages.iter().zip(&theirs) {
        assert_eq!(ours[..2], theirs[..2]);
        let p80: f64 = theirs[2].parse().unwrap();
        for v in &ours[2..] {
            let v: f64 = v.parse().unwrap();
            assert!(
                (v - p80).abs() < 1e-9,
                "stage {}: {v} against {p80}",
                ours[0]
            );
        }
    }
    // The lapsing customers themselves, with their stage and days since the last order.
    let mut lapsing =
        rows("SELECT customer_id, stage, days_since_last_order FROM lapsing_customers").await;
    lapsing.sort();
    let theirs = list("lapsing");
    assert!(theirs.len() > 1000, "{} lapsing", theirs.len());
    assert_eq!(lapsing, theirs);
    // Each VIP's next birthday and the days to it; the VIPs born next month.
    let mut vips = rows(
        "SELECT customer_id, CAST(next_birthday AS VARCHAR), days_to_birthday FROM vip_customers",
    )
    .await;
    vips.sort();
    let theirs = list("vips");
    assert_eq!(vips.len(), 100);
    assert!(
        theirs.iter().filter(|v| v[1] != "NULL").count() > 50,
        "most VIPs have a birthday: {theirs:?}"
    );
    assert_eq!(vips, theirs);
    let mut birthdays = rows(
        "SELECT customer_id, CAST(birthday_date AS VARCHAR), days_to_birthday FROM vip_birthdays",
    )
    .await;
    birthdays.sort();
    assert_eq!(birthdays, list("vip_birthdays"));
    let months = rows("SELECT DISTINCT birthday_month FROM vip_birthdays").await;
    assert!(
        months.is_empty() || months == [[expected["next_month"].to_string()]],
        "{months:?}"
    );
}
