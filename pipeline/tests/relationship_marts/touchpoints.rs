//! touchpoint_132, touchpoint_132_summary and f2_followup on the generated shop.
//!
//! The generator counts, from the touch and order rows it writes, each first-time buyer's
//! approaches and offers in [first counted order, +30 days), whether they hold the 1-3-2
//! rule, whether they ordered again by `as_of` (the latest counted order), and the landmark
//! figures (window ended by `as_of`, no second order inside it, F2 after it):
//! `generated.method.touchpoints`. The marts over the ingested warehouse must give the same
//! counts, and the landmark difference's 95 % interval must hold the realised difference.
//! DuckDB, reading the warehouse's orders and touchpoints Parquet with SQL of its own, gives
//! the comparison rows (raw, stratified, landmark) the summary reports.

use std::collections::BTreeMap;

use crate::fixture;

fn num(s: &str) -> f64 {
    s.parse()
        .unwrap_or_else(|_| panic!("expected a number, got {s:?}"))
}

fn count(s: &str) -> u64 {
    s.parse()
        .unwrap_or_else(|_| panic!("expected a count, got {s:?}"))
}

/// Asserts `a` and `b` agree to 1e-9 (both rates from the same integer counts).
fn close(what: &str, a: Option<f64>, b: Option<f64>) {
    match (a, b) {
        (Some(a), Some(b)) => assert!((a - b).abs() < 1e-9, "{what}: {a} vs {b}"),
        (a, b) => assert_eq!(a, b, "{what}"),
    }
}

fn opt(s: &str) -> Option<f64> {
    (s != "NULL").then(|| num(s))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_marts_reproduce_the_generators_1_3_2_truth() {
    let shop = fixture::shop().await;
    let truth = &shop
        .generated
        .method
        .as_ref()
        .expect("generate reports the method's truth")
        .touchpoints;
    assert_eq!(truth.window_days, 30, "the marts' default window");
    assert!(truth.first_time_buyers > 1000, "{truth:?}");

    // Per buyer: every first-time buyer, compliance and F2 by as_of.
    let r = fixture::rows(
        "SELECT count(*),
                count(CASE WHEN compliant THEN 1 END),
                count(CASE WHEN compliant AND reordered THEN 1 END),
                count(CASE WHEN NOT compliant AND reordered THEN 1 END)
         FROM touchpoint_132",
    )
    .await;
    let got: Vec<u64> = r[0].iter().map(|s| count(s)).collect();
    assert_eq!(
        got,
        [
            truth.first_time_buyers,
            truth.compliant,
            truth.compliant_repeaters,
            truth.non_compliant_repeaters
        ],
        "touchpoint_132: buyers, compliant, compliant and non-compliant repeaters vs {truth:?}"
    );

    // The summary's overall row is the same population.
    let r = fixture::rows(
        "SELECT buyers, compliant_buyers, compliant_share, f2_compliant, f2_non_compliant, observational
         FROM touchpoint_132_summary WHERE scope = 'overall'",
    )
    .await;
    let o = &r[0];
    assert_eq!(
        (count(&o[0]), count(&o[1])),
        (truth.first_time_buyers, truth.compliant)
    );
    close("compliant_share", opt(&o[2]), truth.compliant_share);
    close("f2_compliant", opt(&o[3]), truth.f2_compliant);
    close("f2_non_compliant", opt(&o[4]), truth.f2_non_compliant);
    assert_eq!(o[5], "true", "marked observational");

    // Landmark: the same buyers and repeaters, and the interval holds the realised difference.
    let r = fixture::rows(
        "SELECT compliant_buyers, non_compliant_buyers, compliant_f2_buyers, non_compliant_f2_buyers,
                f2_compliant, f2_non_compliant, f2_difference, difference_ci_low, difference_ci_high
         FROM touchpoint_132_summary WHERE scope = 'landmark'",
    )
    .await;
    let l = &r[0];
    let counts: Vec<u64> = l[..4].iter().map(|s| count(s)).collect();
    assert_eq!(
        counts,
        [
            truth.landmark_compliant,
            truth.landmark_non_compliant,
            truth.landmark_compliant_repeaters,
            truth.landmark_non_compliant_repeaters
        ],
        "landmark counts vs {truth:?}"
    );
    close(
        "landmark f2_compliant",
        opt(&l[4]),
        truth.landmark_f2_compliant,
    );
    close(
        "landmark f2_non_compliant",
        opt(&l[5]),
        truth.landmark_f2_non_compliant,
    );
    let truth_difference =
        truth.landmark_f2_compliant.unwrap() - truth.landmark_f2_non_compliant.unwrap();
    let (low, high) = (num(&l[7]), num(&l[8]));
    assert!(
        low <= truth_difference && truth_difference <= high,
        "landmark difference {truth_difference} outside [{low}, {high}]"
    );
    assert!(
        low < high && high - low < 0.2,
        "an informative interval: [{low}, {high}]"
    );
    // The generator makes compliant buyers come back more often (a positive difference),
    // and mails buyers who reorder inside the window again, which makes them compliant more
    // often: the raw difference carries that, the landmark one does not.
    let landmark = num(&l[6]);
    let raw = num(&fixture::rows(
        "SELECT f2_difference FROM touchpoint_132_summary WHERE scope = 'raw'",
    )
    .await[0][0]);
    assert!(
        0.0 < landmark && landmark < raw,
        "landmark difference {landmark}, raw {raw}"
    );
}

/// DuckDB's own computation of the comparison rows from the warehouse's orders and
/// touchpoints Parquet: per stratum (cohort month × first-order spend band) the counts of
/// the raw and landmark populations; the test pools them (sums; Mantel–Haenszel with the
/// Greenland–Robins variance) and compares with the summary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_comparisons_agree_with_duckdb_over_the_warehouse() {
    let shop = fixture::shop().await;
    let wh = shop.root.join("warehouse");
    let script = format!(
        r#"
import duckdb
con = duckdb.connect()
con.sql("SET TimeZone = 'Asia/Tokyo'")
orders = "read_parquet('{wh}/orders/**/*.parquet', hive_partitioning = true)"
touches = "read_parquet('{wh}/touchpoints/**/*.parquet', hive_partitioning = true)"
sql = f'''
WITH o AS (
    SELECT * FROM {{orders}}
    WHERE status IS NULL OR lower(status) NOT IN ('cancelled', 'returned')
),
cutoff AS (SELECT max(ordered_at) AS as_of FROM o),
seq AS (
    SELECT customer_id, ordered_at, amount,
           row_number() OVER (PARTITION BY customer_id ORDER BY ordered_at, order_id) AS k
    FROM o
),
b AS (
    SELECT customer_id,
           max(ordered_at) FILTER (WHERE k = 1) AS first_at,
           max(amount) FILTER (WHERE k = 1) AS first_amount,
           max(ordered_at) FILTER (WHERE k = 2) AS second_at
    FROM seq GROUP BY customer_id
),
t AS (
    SELECT b.customer_id,
           count(*) FILTER (WHERE t.kind = 'approach') AS a,
           count(*) FILTER (WHERE t.kind = 'offer') AS f
    FROM b JOIN {{touches}} t
      ON t.customer_id = b.customer_id
     AND t.touched_at >= b.first_at
     AND t.touched_at < b.first_at + INTERVAL 30 DAY
     AND t.touched_at <= (SELECT as_of FROM cutoff)
    GROUP BY b.customer_id
),
p AS (
    SELECT strftime(b.first_at AT TIME ZONE 'Asia/Tokyo', '%Y-%m') AS month,
           CASE WHEN first_amount < 10000 THEN 1 WHEN first_amount < 30000 THEN 2
                WHEN first_amount < 50000 THEN 3 WHEN first_amount < 80000 THEN 4 ELSE 5 END AS band,
           coalesce(t.a, 0) >= 3 AND coalesce(t.f, 0) >= 2 AS c,
           b.first_at + INTERVAL 30 DAY <= (SELECT as_of FROM cutoff) AS ended,
           b.second_at IS NOT NULL AS f2,
           coalesce(b.second_at < b.first_at + INTERVAL 30 DAY, false) AS early
    FROM b LEFT JOIN t USING (customer_id)
)
SELECT 'raw' AS pop, month, band,
       count(*) FILTER (WHERE c), count(*) FILTER (WHERE c AND f2),
       count(*) FILTER (WHERE NOT c), count(*) FILTER (WHERE NOT c AND f2)
FROM p WHERE ended GROUP BY month, band
UNION ALL
SELECT 'landmark', month, band,
       count(*) FILTER (WHERE c), count(*) FILTER (WHERE c AND f2),
       count(*) FILTER (WHERE NOT c), count(*) FILTER (WHERE NOT c AND f2)
FROM p WHERE ended AND NOT early GROUP BY month, band
'''
for r in con.sql(sql).fetchall():
    print('|'.join(str(x) for x in r))
"#,
        wh = wh.display()
    );
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("python3 runs (ci/setup.sh installs duckdb)");
    assert!(
        out.status.success(),
        "duckdb: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // population → strata (n1, x1, n0, x0)
    let mut strata: BTreeMap<String, Vec<[f64; 4]>> = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let cells: Vec<&str> = line.split('|').collect();
        assert_eq!(cells.len(), 7, "{line}");
        let n: Vec<f64> = cells[3..].iter().map(|s| num(s)).collect();
        strata
            .entry(cells[0].to_string())
            .or_default()
            .push([n[0], n[1], n[2], n[3]]);
    }
    assert_eq!(strata.len(), 2, "both populations have strata");

    for (population, stratified) in [("raw", "stratified"), ("landmark", "landmark_stratified")] {
        let s = &strata[population];
        let total = |i: usize| s.iter().map(|r| r[i]).sum::<f64>();
        let (n1, x1, n0, x0) = (total(0), total(1), total(2), total(3));
        let (p1, p0) = (x1 / n1, x0 / n0);
        let se = (p1 * (1.0 - p1) / n1 + p0 * (1.0 - p0) / n0).sqrt();
        let r = fixture::rows(&format!(
            "SELECT compliant_buyers, compliant_f2_buyers, non_compliant_buyers, non_compliant_f2_buyers,
                    f2_difference, difference_se
             FROM touchpoint_132_summary WHERE scope = '{population}'"
        ))
        .await;
        let m = &r[0];
        assert_eq!(
            [num(&m[0]), num(&m[1]), num(&m[2]), num(&m[3])],
            [n1, x1, n0, x0],
            "{population} counts"
        );
        close(
            &format!("{population} difference"),
            opt(&m[4]),
            Some(p1 - p0),
        );
        close(&format!("{population} se"), opt(&m[5]), Some(se));

        // Mantel–Haenszel risk difference over the strata with both groups.
        let used: Vec<&[f64; 4]> = s.iter().filter(|r| r[0] > 0.0 && r[2] > 0.0).collect();
        let w = |r: &[f64; 4]| r[0] * r[2] / (r[0] + r[2]);
        let w_sum: f64 = used.iter().map(|r| w(r)).sum();
        let rd = used
            .iter()
            .map(|r| w(r) * (r[1] / r[0] - r[3] / r[2]))
            .sum::<f64>()
            / w_sum;
        let var = used
            .iter()
            .map(|r| {
                let (q1, q0) = (r[1] / r[0], r[3] / r[2]);
                w(r).powi(2) * (q1 * (1.0 - q1) / r[0] + q0 * (1.0 - q0) / r[2])
            })
            .sum::<f64>()
            / w_sum.powi(2);
        let r = fixture::rows(&format!(
            "SELECT strata, strata_used, f2_difference, difference_se, mh_weight
             FROM touchpoint_132_summary WHERE scope = '{stratified}'"
        ))
        .await;
        let m = &r[0];
        assert_eq!(
            (count(&m[0]), count(&m[1])),
            (s.len() as u64, used.len() as u64),
            "{stratified} strata"
        );
        close(&format!("{stratified} RD"), opt(&m[2]), Some(rd));
        close(&format!("{stratified} se"), opt(&m[3]), Some(var.sqrt()));
        close(&format!("{stratified} Σw"), opt(&m[4]), Some(w_sum));
    }
}

/// The care list on the generated shop: exactly the buyers of touchpoint_132 with an open
/// window and no second order, most urgent first, and what is missing adds up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f2_followup_lists_the_open_windows_most_urgent_first() {
    let open = fixture::rows(
        "SELECT count(*) FROM touchpoint_132 WHERE NOT window_ended AND NOT reordered",
    )
    .await;
    let rows = fixture::rows(
        "SELECT urgency_rank, days_left, approaches_missing + offers_missing, compliant_so_far,
                approaches, offers, approaches_missing, offers_missing
         FROM f2_followup ORDER BY urgency_rank",
    )
    .await;
    assert!(
        !rows.is_empty(),
        "a generated shop has buyers in their first month"
    );
    assert_eq!(rows.len() as u64, count(&open[0][0]));
    let key = |r: &Vec<String>| (r[3] == "true", count(&r[1]), -(count(&r[2]) as i64));
    for (i, pair) in rows.windows(2).enumerate() {
        assert_eq!(count(&pair[0][0]), i as u64 + 1);
        assert!(
            key(&pair[0]) <= key(&pair[1]),
            "{:?} before {:?}",
            pair[0],
            pair[1]
        );
    }
    for r in &rows {
        let days = count(&r[1]);
        assert!(days <= 30, "{r:?}");
        let (a, o, am, om) = (count(&r[4]), count(&r[5]), count(&r[6]), count(&r[7]));
        assert_eq!(am, 3u64.saturating_sub(a), "{r:?}");
        assert_eq!(om, 2u64.saturating_sub(o), "{r:?}");
    }
}
