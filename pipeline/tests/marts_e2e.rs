//! End-to-end check of every mart against a plain-Rust recomputation.
//!
//! A seeded generator writes a few thousand orders in the warehouse contract's schema
//! (including excluded statuses, NULL statuses, orders after `as_of`, same-instant and
//! same-day repeat orders and late-evening UTC times that fall on the next day in Tokyo).
//! The marts are built with the real runner; each one is then compared, row by row, with a
//! straightforward computation over the same rows: counts and money exactly, rates to 1e-9.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Tokyo;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, Decimal128Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Field, Float64Type, Int32Type, Int64Type, Schema,
    SchemaRef, TimeUnit, TimestampMicrosecondType,
};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use pipeline::marts::state::StateEngine;
use pipeline::marts::{MartSink, MartsConfig, MartsError, SinkError, build_marts};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DAY_US: i64 = 86_400_000_000;

#[derive(Debug, Clone)]
struct Order {
    id: String,
    customer: String,
    at: i64, // µs since epoch, UTC
    date: NaiveDate,
    amount: i128,
    status: Option<&'static str>,
}

fn generate(seed: u64) -> Vec<Order> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let start = Utc
        .with_ymd_and_hms(2023, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp_micros();
    let span = 2 * 365 * DAY_US + 160 * DAY_US; // to mid 2025
    let statuses = [
        Some("completed"),
        Some("completed"),
        Some("shipped"),
        Some("pending"),
        Some("cancelled"),
        Some("returned"),
        None,
    ];
    let mut orders = Vec::new();
    for c in 0..700 {
        let customer = format!("C{c:04}");
        let n = 1 + (rng.random::<f64>().powi(3) * 12.0) as usize;
        let mut t = start + rng.random_range(0..span);
        for k in 0..n {
            if k > 0 {
                t += match rng.random_range(0..10) {
                    0 => 0,                                      // same instant
                    1 => rng.random_range(0..6 * 3_600_000_000), // same day-ish
                    _ => rng.random_range(0..200 * DAY_US),
                };
            }
            if rng.random_range(0..6) == 0 {
                // land at 23:xx UTC = 08:xx next day in Tokyo
                t = t - t.rem_euclid(DAY_US)
                    + 23 * 3_600_000_000
                    + rng.random_range(0..3_600_000_000);
            }
            let at = DateTime::from_timestamp_micros(t).unwrap();
            orders.push(Order {
                id: format!("O{}", orders.len() + 100_000),
                customer: customer.clone(),
                at: t,
                date: at.with_timezone(&Tokyo).date_naive(),
                amount: rng.random_range(1..60) as i128 * 500,
                status: statuses[rng.random_range(0..statuses.len())],
            });
        }
    }
    orders
}

fn orders_batch(orders: &[Order]) -> RecordBatch {
    let tz: Arc<str> = Arc::from("Asia/Tokyo");
    let schema = Arc::new(Schema::new(vec![
        Field::new("order_id", DataType::Utf8, false),
        Field::new("customer_id", DataType::Utf8, false),
        Field::new(
            "ordered_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some(tz.clone())),
            false,
        ),
        Field::new("order_date", DataType::Date32, false),
        Field::new("amount", DataType::Decimal128(18, 0), false),
        Field::new("status", DataType::Utf8, true),
        Field::new("channel", DataType::Utf8, true),
        Field::new("product_id", DataType::Utf8, true),
        Field::new("offer_code", DataType::Utf8, true),
        Field::new("is_subscription", DataType::Boolean, true),
        Field::new("source_object", DataType::Utf8, false),
        Field::new("source_line", DataType::Int64, false),
        Field::new("order_month", DataType::Utf8, false),
    ]));
    let n = orders.len();
    let none = || Arc::new(StringArray::from(vec![None::<&str>; n])) as ArrayRef;
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            orders.iter().map(|o| o.id.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            orders.iter().map(|o| o.customer.as_str()),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(orders.iter().map(|o| o.at))
                .with_timezone(tz),
        ),
        Arc::new(Date32Array::from_iter_values(
            orders.iter().map(|o| days(o.date)),
        )),
        Arc::new(
            Decimal128Array::from_iter_values(orders.iter().map(|o| o.amount))
                .with_precision_and_scale(18, 0)
                .unwrap(),
        ),
        Arc::new(StringArray::from(
            orders.iter().map(|o| o.status).collect::<Vec<_>>(),
        )),
        none(),
        none(),
        none(),
        Arc::new(BooleanArray::from(vec![None; n])),
        Arc::new(StringArray::from_iter_values(
            orders.iter().map(|_| "gen.csv"),
        )),
        Arc::new(Int64Array::from_iter_values(0..n as i64)),
        Arc::new(StringArray::from_iter_values(
            orders.iter().map(|o| o.date.format("%Y-%m").to_string()),
        )),
    ];
    RecordBatch::try_new(schema, cols).unwrap()
}

fn days(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()).num_days() as i32
}

fn month_index(d: NaiveDate) -> i64 {
    d.year() as i64 * 12 + d.month0() as i64
}

#[derive(Default)]
struct Collect(BTreeMap<String, RecordBatch>);

#[async_trait]
impl MartSink for Collect {
    async fn write(
        &mut self,
        mart: &str,
        schema: SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<(), SinkError> {
        self.0
            .insert(mart.to_string(), concat_batches(&schema, batches)?);
        Ok(())
    }
}

/// Typed access to a mart's columns by name.
struct T<'a>(&'a RecordBatch);

impl T<'_> {
    fn col(&self, name: &str) -> &ArrayRef {
        let i = self
            .0
            .schema()
            .index_of(name)
            .unwrap_or_else(|_| panic!("missing column {name}"));
        self.0.column(i)
    }
    fn s(&self, name: &str, r: usize) -> Option<String> {
        let c = self.col(name);
        (!c.is_null(r)).then(|| match c.data_type() {
            DataType::Utf8 => c.as_string::<i32>().value(r).to_string(),
            DataType::Utf8View => c.as_string_view().value(r).to_string(),
            other => panic!("{name}: expected a string, got {other}"),
        })
    }
    fn i(&self, name: &str, r: usize) -> Option<i64> {
        let c = self.col(name);
        (!c.is_null(r)).then(|| match c.data_type() {
            DataType::Int64 => c.as_primitive::<Int64Type>().value(r),
            DataType::Int32 => c.as_primitive::<Int32Type>().value(r) as i64,
            other => panic!("{name}: expected an integer, got {other}"),
        })
    }
    fn f(&self, name: &str, r: usize) -> Option<f64> {
        let c = self.col(name);
        (!c.is_null(r)).then(|| c.as_primitive::<Float64Type>().value(r))
    }
    fn d(&self, name: &str, r: usize) -> Option<i128> {
        let c = self.col(name);
        assert!(
            matches!(c.data_type(), DataType::Decimal128(_, 0)),
            "{name}: {}",
            c.data_type()
        );
        (!c.is_null(r)).then(|| c.as_primitive::<Decimal128Type>().value(r))
    }
    fn ts(&self, name: &str, r: usize) -> Option<i64> {
        let c = self.col(name);
        (!c.is_null(r)).then(|| c.as_primitive::<TimestampMicrosecondType>().value(r))
    }
    fn date(&self, name: &str, r: usize) -> Option<i32> {
        let c = self.col(name);
        (!c.is_null(r)).then(|| c.as_primitive::<Date32Type>().value(r))
    }
    fn b(&self, name: &str, r: usize) -> Option<bool> {
        let c = self.col(name);
        (!c.is_null(r)).then(|| c.as_boolean().value(r))
    }
}

fn close(a: Option<f64>, b: Option<f64>, what: &str) {
    match (a, b) {
        (None, None) => {}
        (Some(x), Some(y)) => assert!(
            (x - y).abs() <= 1e-9 * y.abs().max(1.0),
            "{what}: mart {x} vs expected {y}"
        ),
        _ => panic!("{what}: mart {a:?} vs expected {b:?}"),
    }
}

fn ratio(n: usize, d: usize) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

/// percentile_cont: linear interpolation at position (n − 1)·p of the sorted values.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let pos = (sorted.len() - 1) as f64 * p;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64))
}

struct Cust {
    orders: Vec<Order>, // counted, sorted by (at, id)
    first_month: i64,
}

impl Cust {
    fn total(&self) -> i128 {
        self.orders.iter().map(|o| o.amount).sum()
    }
    fn second(&self) -> Option<&Order> {
        self.orders.get(1)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mart_matches_a_plain_rust_computation() {
    check_every_mart(SessionContext::new(), StateEngine::Pass).await;
}

/// The same marts under a memory pool far smaller than their working set, shared fairly
/// like `[engine] memory_limit_mib` does, with small batches: sorts and aggregations must
/// spill to disk and still give exactly the same numbers. (With spilling disabled the same
/// pool is too small: the first test below shows the spill path is really taken.) The
/// customer state runs as SQL here: its aggregations are the largest working set, and the
/// Rust pass does not go through DataFusion's pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mart_matches_when_the_engine_must_spill() {
    let ctx = tight_session(false);
    register_orders(&ctx, &generate(42));
    let cfg = MartsConfig {
        as_of: Some("2025-04-20T12:00:00+09:00".into()),
        customer_state: StateEngine::Sql,
        ..Default::default()
    };
    let err = build_marts(&ctx, &cfg, "Asia/Tokyo", None, &mut Collect::default())
        .await
        .expect_err("the pool is too small without spilling")
        .to_string();
    assert!(
        (err.contains("sql/marts/") || err.contains("sql/state/"))
            && err.to_lowercase().contains("memory"),
        "{err}"
    );
    check_every_mart(tight_session(true), StateEngine::Sql).await;
}

/// A session with a 512 KiB fair pool, 64-row batches and 2 partitions; spilling to a
/// temporary folder, or not at all.
fn tight_session(spill: bool) -> SessionContext {
    use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
    use datafusion::execution::memory_pool::FairSpillPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    let mode = if spill {
        DiskManagerMode::OsTmpDirectory
    } else {
        DiskManagerMode::Disabled
    };
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(512 * 1024)))
        .with_disk_manager_builder(DiskManagerBuilder::default().with_mode(mode))
        .build_arc()
        .unwrap();
    let mut config = datafusion::prelude::SessionConfig::new()
        .with_batch_size(64)
        .with_target_partitions(2);
    // What a sort keeps back for merging its spill files (10 MB by default).
    config.options_mut().execution.sort_spill_reservation_bytes = 16 * 1024;
    SessionContext::new_with_config_rt(config, runtime)
}

fn register_orders(ctx: &SessionContext, orders: &[Order]) {
    let batch = orders_batch(orders);
    ctx.register_table(
        "orders",
        Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap()),
    )
    .unwrap();
}

async fn check_every_mart(ctx: SessionContext, customer_state: StateEngine) {
    let orders = generate(42);
    assert!(orders.len() > 2000, "{} orders", orders.len());
    let as_of = Tokyo.with_ymd_and_hms(2025, 4, 20, 12, 0, 0).unwrap();
    let as_of_us = as_of.timestamp_micros();
    let as_of_month = month_index(as_of.date_naive());
    let cfg = MartsConfig {
        as_of: Some(as_of.to_rfc3339()),
        vip_top_n: 25,
        customer_state,
        ..Default::default()
    };

    register_orders(&ctx, &orders);
    let mut sink = Collect::default();
    let runs = build_marts(&ctx, &cfg, "Asia/Tokyo", None, &mut sink)
        .await
        .unwrap();
    // With orders alone, the marts of the relationship datasets are skipped, each saying why;
    // the order marts (the eight checked below, the movement pair and the lapsing list) are
    // built.
    let mut skipped: Vec<&str> = runs
        .iter()
        .filter(|r| r.skipped.is_some())
        .map(|r| r.name.as_str())
        .collect();
    skipped.sort_unstable();
    assert_eq!(
        skipped,
        [
            "cancellation_reasons",
            "f2_followup",
            "nps",
            "nps_customers",
            "nps_ltv",
            "subscription_retention",
            "subscription_sbg",
            "touchpoint_132",
            "touchpoint_132_summary",
            "vip_birthdays",
        ]
    );
    let nps = runs.iter().find(|r| r.name == "nps").unwrap();
    assert_eq!(nps.skipped.as_deref(), Some("no rows in nps_responses"));
    let followup = runs.iter().find(|r| r.name == "f2_followup").unwrap();
    assert!(followup.skipped.is_some() && !sink.0.contains_key("f2_followup"));
    let runs: Vec<_> = runs.into_iter().filter(|r| r.skipped.is_none()).collect();
    assert_eq!(runs.len(), 11);
    for r in &runs {
        assert_eq!(r.rows as usize, sink.0[&r.name].num_rows(), "{}", r.name);
    }

    // ---- the independent model ----
    let counted: Vec<&Order> = orders
        .iter()
        .filter(|o| !matches!(o.status, Some("cancelled" | "returned")) && o.at <= as_of_us)
        .collect();
    let mut custs: BTreeMap<String, Cust> = BTreeMap::new();
    for o in &counted {
        custs
            .entry(o.customer.clone())
            .or_insert_with(|| Cust {
                orders: vec![],
                first_month: 0,
            })
            .orders
            .push((*o).clone());
    }
    for c in custs.values_mut() {
        c.orders.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        c.first_month = month_index(c.orders[0].date);
    }
    let ltv = |c: &Cust| -> Option<i128> {
        let first = c.orders[0].at;
        (first + 365 * DAY_US <= as_of_us).then(|| {
            c.orders
                .iter()
                .filter(|o| o.at < first + 365 * DAY_US)
                .map(|o| o.amount)
                .sum()
        })
    };
    let edges = [10_000i128, 30_000, 50_000, 80_000];
    let spend_bucket =
        |t: i128| -> usize { edges.iter().position(|e| t < *e).unwrap_or(edges.len()) };
    let labels = [
        "0-10000",
        "10000-30000",
        "30000-50000",
        "50000-80000",
        "80000+",
    ];
    let mut eligible: Vec<(&String, i128)> = custs
        .iter()
        .filter(|(_, c)| c.total() >= 80_000 || c.orders.len() >= 5)
        .map(|(id, c)| (id, c.total()))
        .collect();
    eligible.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let vip: HashMap<&String, i64> = eligible
        .iter()
        .take(25)
        .enumerate()
        .map(|(i, (id, _))| (*id, i as i64 + 1))
        .collect();
    assert!(
        eligible.len() > 25,
        "the top-N cut must matter in this data"
    );

    // ---- customer_summary ----
    let cs = T(&sink.0["customer_summary"]);
    assert_eq!(cs.0.num_rows(), custs.len());
    for r in 0..cs.0.num_rows() {
        let id = cs.s("customer_id", r).unwrap();
        let c = &custs[&id];
        let (first, last) = (&c.orders[0], c.orders.last().unwrap());
        assert_eq!(cs.ts("first_order_at", r), Some(first.at), "{id}");
        assert_eq!(
            cs.date("first_order_date", r),
            Some(days(first.date)),
            "{id}"
        );
        let cohort = NaiveDate::from_ymd_opt(first.date.year(), first.date.month(), 1).unwrap();
        assert_eq!(cs.date("cohort_month", r), Some(days(cohort)), "{id}");
        assert_eq!(
            cs.ts("second_order_at", r),
            c.second().map(|o| o.at),
            "{id}"
        );
        assert_eq!(
            cs.i("days_to_f2", r),
            c.second().map(|o| (o.date - first.date).num_days()),
            "{id}"
        );
        assert_eq!(cs.i("order_count", r), Some(c.orders.len() as i64), "{id}");
        assert_eq!(cs.d("total_amount", r), Some(c.total()), "{id}");
        assert_eq!(cs.ts("last_order_at", r), Some(last.at), "{id}");
        assert_eq!(cs.d("ltv_365", r), ltv(c), "{id}");
        let fb = if c.orders.len() >= 5 {
            "5+".to_string()
        } else {
            c.orders.len().to_string()
        };
        assert_eq!(cs.s("frequency_bucket", r), Some(fb), "{id}");
        let sb = spend_bucket(c.total());
        assert_eq!(cs.s("spend_bucket", r).as_deref(), Some(labels[sb]), "{id}");
        assert_eq!(cs.i("spend_bucket_order", r), Some(sb as i64 + 1), "{id}");
        let rank = match c.total() {
            t if t >= 200_000 => "Diamond",
            t if t >= 80_000 => "Platinum",
            t if t >= 30_000 => "Gold",
            _ => "Regular",
        };
        assert_eq!(cs.s("member_rank", r).as_deref(), Some(rank), "{id}");
        assert_eq!(cs.i("vip_rank", r), vip.get(&id).copied(), "{id}");
        assert_eq!(cs.b("is_vip", r), Some(vip.contains_key(&id)), "{id}");
    }

    // ---- cohort_retention ----
    let mut cohort_size: BTreeMap<i64, usize> = BTreeMap::new();
    let mut active: BTreeMap<(i64, i64), BTreeSet<&String>> = BTreeMap::new();
    let mut revenue: BTreeMap<(i64, i64), i128> = BTreeMap::new();
    for (id, c) in &custs {
        *cohort_size.entry(c.first_month).or_default() += 1;
        for o in &c.orders {
            let off = month_index(o.date) - c.first_month;
            active.entry((c.first_month, off)).or_default().insert(id);
            *revenue.entry((c.first_month, off)).or_default() += o.amount;
        }
    }
    let cr = T(&sink.0["cohort_retention"]);
    let expected_cells: usize = cohort_size
        .keys()
        .map(|m| (as_of_month - m + 1) as usize)
        .sum();
    assert_eq!(cr.0.num_rows(), expected_cells);
    let mut cumulative: HashMap<i64, i128> = HashMap::new();
    for r in 0..cr.0.num_rows() {
        // rows are ordered by cohort, offset
        let cm =
            NaiveDate::from_num_days_from_ce_opt(cr.date("cohort_month", r).unwrap() + 719_163)
                .unwrap();
        let m = month_index(cm);
        let off = cr.i("month_offset", r).unwrap();
        let size = cohort_size[&m];
        let act = active.get(&(m, off)).map_or(0, BTreeSet::len);
        let rev = revenue.get(&(m, off)).copied().unwrap_or(0);
        let cum = cumulative.entry(m).or_default();
        *cum += rev;
        let what = format!("cohort {cm} +{off}");
        assert_eq!(cr.i("cohort_size", r), Some(size as i64), "{what}");
        assert_eq!(cr.i("active_customers", r), Some(act as i64), "{what}");
        close(cr.f("retention_rate", r), ratio(act, size), &what);
        assert_eq!(cr.d("revenue", r), Some(rev), "{what}");
        assert_eq!(cr.d("cumulative_revenue", r), Some(*cum), "{what}");
        close(
            cr.f("cumulative_revenue_per_customer", r),
            Some(*cum as f64 / size as f64),
            &what,
        );
        assert_eq!(
            cr.b("is_partial", r),
            Some(m + off == as_of_month),
            "{what}"
        );
    }

    // ---- f2_conversion ----
    let f2 = T(&sink.0["f2_conversion"]);
    assert_eq!(f2.0.num_rows(), cohort_size.len() + 1);
    for r in 0..f2.0.num_rows() {
        let scope = f2.s("scope", r).unwrap();
        let members: Vec<&Cust> = match f2.date("cohort_month", r) {
            Some(d) => {
                let m = month_index(NaiveDate::from_num_days_from_ce_opt(d + 719_163).unwrap());
                assert_eq!(scope, "cohort");
                custs.values().filter(|c| c.first_month == m).collect()
            }
            None => {
                assert_eq!(scope, "overall");
                custs.values().collect()
            }
        };
        let what = format!("f2 row {r}");
        let f2n = members.iter().filter(|c| c.orders.len() >= 2).count();
        assert_eq!(f2.i("cohort_size", r), Some(members.len() as i64), "{what}");
        assert_eq!(f2.i("f2_customers", r), Some(f2n as i64), "{what}");
        close(f2.f("f2_rate", r), ratio(f2n, members.len()), &what);
        for w in [30i64, 60, 90, 180, 365] {
            let base: Vec<&&Cust> = members
                .iter()
                .filter(|c| c.orders[0].at + w * DAY_US <= as_of_us)
                .collect();
            let conv = base
                .iter()
                .filter(|c| {
                    c.second()
                        .is_some_and(|s| s.at < c.orders[0].at + w * DAY_US)
                })
                .count();
            assert_eq!(
                f2.i(&format!("f2_{w}d_base"), r),
                Some(base.len() as i64),
                "{what} {w}"
            );
            assert_eq!(
                f2.i(&format!("f2_{w}d_customers"), r),
                Some(conv as i64),
                "{what} {w}"
            );
            close(
                f2.f(&format!("f2_{w}d_rate"), r),
                ratio(conv, base.len()),
                &format!("{what} {w}"),
            );
        }
        let mut d: Vec<f64> = members
            .iter()
            .filter_map(|c| {
                c.second()
                    .map(|s| (s.date - c.orders[0].date).num_days() as f64)
            })
            .collect();
        d.sort_by(f64::total_cmp);
        close(f2.f("median_days_to_f2", r), percentile(&d, 0.5), &what);
    }

    // ---- frequency_ladder ----
    let fl = T(&sink.0["frequency_ladder"]);
    let max_k = custs.values().map(|c| c.orders.len()).max().unwrap();
    assert_eq!(fl.0.num_rows(), max_k);
    for r in 0..fl.0.num_rows() {
        let k = fl.i("k", r).unwrap() as usize;
        assert_eq!(k, r + 1);
        let with_k: Vec<&Cust> = custs.values().filter(|c| c.orders.len() >= k).collect();
        let mut gaps: Vec<f64> = with_k
            .iter()
            .filter(|c| c.orders.len() > k)
            .map(|c| (c.orders[k].date - c.orders[k - 1].date).num_days() as f64)
            .collect();
        gaps.sort_by(f64::total_cmp);
        let what = format!("ladder k={k}");
        assert_eq!(fl.i("customers_k", r), Some(with_k.len() as i64), "{what}");
        assert_eq!(fl.i("customers_next", r), Some(gaps.len() as i64), "{what}");
        close(
            fl.f("conversion_rate", r),
            ratio(gaps.len(), with_k.len()),
            &what,
        );
        let mean = (!gaps.is_empty()).then(|| gaps.iter().sum::<f64>() / gaps.len() as f64);
        close(fl.f("gap_days_mean", r), mean, &what);
        close(fl.f("gap_days_p25", r), percentile(&gaps, 0.25), &what);
        close(fl.f("gap_days_median", r), percentile(&gaps, 0.5), &what);
        close(fl.f("gap_days_p75", r), percentile(&gaps, 0.75), &what);
        close(fl.f("gap_days_p90", r), percentile(&gaps, 0.9), &what);
        let amt: i128 = with_k.iter().map(|c| c.orders[k - 1].amount).sum();
        assert_eq!(fl.d("amount_total", r), Some(amt), "{what}");
        close(
            fl.f("mean_amount", r),
            Some(amt as f64 / with_k.len() as f64),
            &what,
        );
    }

    // ---- monthly_kpis ----
    let mk = T(&sink.0["monthly_kpis"]);
    let first_month = custs.values().map(|c| c.first_month).min().unwrap();
    assert_eq!(mk.0.num_rows() as i64, as_of_month - first_month + 1);
    for r in 0..mk.0.num_rows() {
        let m = first_month + r as i64;
        let d = NaiveDate::from_ymd_opt((m / 12) as i32, (m % 12) as u32 + 1, 1).unwrap();
        let what = format!("month {d}");
        assert_eq!(mk.date("month", r), Some(days(d)), "{what}");
        let in_month: Vec<&Order> = counted
            .iter()
            .copied()
            .filter(|o| month_index(o.date) == m)
            .collect();
        let buyers: BTreeSet<&String> = in_month.iter().map(|o| &o.customer).collect();
        let is_new = |id: &String| custs[id].first_month == m;
        let sales: i128 = in_month.iter().map(|o| o.amount).sum();
        let new_sales: i128 = in_month
            .iter()
            .filter(|o| is_new(&o.customer))
            .map(|o| o.amount)
            .sum();
        assert_eq!(mk.d("sales", r), Some(sales), "{what}");
        assert_eq!(mk.i("orders", r), Some(in_month.len() as i64), "{what}");
        assert_eq!(mk.i("customers", r), Some(buyers.len() as i64), "{what}");
        let new_n = buyers.iter().filter(|id| is_new(id)).count();
        assert_eq!(mk.i("new_customers", r), Some(new_n as i64), "{what}");
        assert_eq!(
            mk.i("repeat_customers", r),
            Some((buyers.len() - new_n) as i64),
            "{what}"
        );
        assert_eq!(mk.d("new_customer_sales", r), Some(new_sales), "{what}");
        assert_eq!(mk.d("repeat_sales", r), Some(sales - new_sales), "{what}");
        let aov = (!in_month.is_empty()).then(|| sales as f64 / in_month.len() as f64);
        close(mk.f("average_order_value", r), aov, &what);
        assert_eq!(mk.b("is_partial", r), Some(m == as_of_month), "{what}");
    }

    // ---- annual_kpis ----
    let ak = T(&sink.0["annual_kpis"]);
    let years: BTreeSet<i32> = counted.iter().map(|o| o.date.year()).collect();
    assert_eq!(ak.0.num_rows(), years.len());
    for (r, y) in years.iter().enumerate() {
        let what = format!("year {y}");
        assert_eq!(ak.i("year", r), Some(*y as i64), "{what}");
        let in_year: Vec<&Order> = counted
            .iter()
            .copied()
            .filter(|o| o.date.year() == *y)
            .collect();
        let mut per: BTreeMap<&String, usize> = BTreeMap::new();
        for o in &in_year {
            *per.entry(&o.customer).or_default() += 1;
        }
        let repeaters = per.values().filter(|n| **n >= 2).count();
        assert_eq!(
            ak.d("sales", r),
            Some(in_year.iter().map(|o| o.amount).sum()),
            "{what}"
        );
        assert_eq!(ak.i("orders", r), Some(in_year.len() as i64), "{what}");
        assert_eq!(
            ak.i("active_customers", r),
            Some(per.len() as i64),
            "{what}"
        );
        assert_eq!(
            ak.i("repeat_customers", r),
            Some(repeaters as i64),
            "{what}"
        );
        let repeat_rate = ratio(repeaters, per.len());
        close(ak.f("repeat_rate", r), repeat_rate, &what);
        let newcomers: Vec<&Cust> = custs
            .values()
            .filter(|c| c.orders[0].date.year() == *y)
            .collect();
        let f2n = newcomers.iter().filter(|c| c.orders.len() >= 2).count();
        assert_eq!(
            ak.i("new_customers", r),
            Some(newcomers.len() as i64),
            "{what}"
        );
        assert_eq!(ak.i("f2_customers", r), Some(f2n as i64), "{what}");
        let f2_rate = ratio(f2n, newcomers.len());
        close(ak.f("f2_rate", r), f2_rate, &what);
        let matured: Vec<i128> = newcomers.iter().filter_map(|c| ltv(c)).collect();
        assert_eq!(
            ak.i("ltv_1y_customers", r),
            Some(matured.len() as i64),
            "{what}"
        );
        let ltv_1y = (!matured.is_empty())
            .then(|| matured.iter().sum::<i128>() as f64 / matured.len() as f64);
        close(ak.f("ltv_1y", r), ltv_1y, &what);
        assert_eq!(
            ak.b("f2_target_met", r),
            f2_rate.map(|v| v >= 0.87),
            "{what}"
        );
        assert_eq!(
            ak.b("ltv_target_met", r),
            ltv_1y.map(|v| v >= 18_000.0),
            "{what}"
        );
        assert_eq!(
            ak.b("repeat_target_met", r),
            repeat_rate.map(|v| v >= 0.6),
            "{what}"
        );
        assert_eq!(ak.b("is_partial", r), Some(*y == as_of.year()), "{what}");
    }

    // ---- fan_matrix ----
    let fm = T(&sink.0["fan_matrix"]);
    assert_eq!(fm.0.num_rows(), 25);
    let all_sales: i128 = custs.values().map(Cust::total).sum();
    for r in 0..25 {
        let (fo, so) = (
            fm.i("frequency_order", r).unwrap() as usize,
            fm.i("spend_bucket_order", r).unwrap() as usize,
        );
        assert_eq!((fo, so), (r / 5 + 1, r % 5 + 1));
        let cell: Vec<&Cust> = custs
            .values()
            .filter(|c| c.orders.len().min(5) == fo && spend_bucket(c.total()) + 1 == so)
            .collect();
        let spend: i128 = cell.iter().map(|c| c.total()).sum();
        let what = format!("fan cell {fo}×{so}");
        assert_eq!(
            fm.s("spend_bucket", r).as_deref(),
            Some(labels[so - 1]),
            "{what}"
        );
        assert_eq!(fm.i("customers", r), Some(cell.len() as i64), "{what}");
        assert_eq!(fm.d("total_spend", r), Some(spend), "{what}");
        close(
            fm.f("customer_share", r),
            ratio(cell.len(), custs.len()),
            &what,
        );
        close(
            fm.f("sales_share", r),
            Some(spend as f64 / all_sales as f64),
            &what,
        );
    }

    // ---- vip_customers ----
    let vc = T(&sink.0["vip_customers"]);
    assert_eq!(vc.0.num_rows(), 25);
    for (r, (id, total)) in eligible.iter().take(25).enumerate() {
        let (id, total) = (*id, *total);
        assert_eq!(vc.i("vip_rank", r), Some(r as i64 + 1));
        assert_eq!(vc.s("customer_id", r).as_ref(), Some(id));
        assert_eq!(vc.d("total_amount", r), Some(total));
        assert_eq!(vc.i("order_count", r), Some(custs[id].orders.len() as i64));
        assert_eq!(vc.i("birthday_month", r), None);
    }
}

#[tokio::test]
async fn only_builds_the_requested_marts_and_their_inputs() {
    let orders = generate(7);
    let ctx = SessionContext::new();
    let batch = orders_batch(&orders);
    ctx.register_table(
        "orders",
        Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap()),
    )
    .unwrap();
    let mut sink = Collect::default();
    let only = vec!["vip_customers".to_string()];
    let runs = build_marts(
        &ctx,
        &MartsConfig::default(),
        "Asia/Tokyo",
        Some(&only),
        &mut sink,
    )
    .await
    .unwrap();
    let names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["customer_summary", "vip_customers"]);
    assert!(ctx.table_exist("vip_customers").unwrap());
    assert!(!ctx.table_exist("fan_matrix").unwrap());
}

/// The state tables are counted in the session's memory pool while they are held: when
/// customer_summary's result reaches the sink (its operators done) the pool holds exactly
/// the four tables' batches, measured here by reading the tables back; once the marts are
/// built the tables are gone and the pool is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customer_state_is_counted_in_the_memory_pool_while_held() {
    /// Measures when customer_summary's result arrives (its operators are done by then).
    struct Measure {
        ctx: SessionContext,
        seen: Option<(usize, usize)>,
    }
    #[async_trait]
    impl MartSink for Measure {
        async fn write(
            &mut self,
            mart: &str,
            _: SchemaRef,
            _: &[RecordBatch],
        ) -> Result<(), SinkError> {
            if mart == "customer_summary" {
                let reserved = self.ctx.runtime_env().memory_pool.reserved();
                let mut held = 0;
                for (table, _) in pipeline::marts::state::TABLES {
                    let batches = self.ctx.table(table).await?.collect().await?;
                    held += batches
                        .iter()
                        .map(RecordBatch::get_array_memory_size)
                        .sum::<usize>();
                }
                self.seen = Some((reserved, held));
            }
            Ok(())
        }
    }
    let runtime = datafusion::execution::runtime_env::RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(
            datafusion::execution::memory_pool::FairSpillPool::new(1 << 30),
        ))
        .build_arc()
        .unwrap();
    let ctx =
        SessionContext::new_with_config_rt(datafusion::prelude::SessionConfig::new(), runtime);
    register_orders(&ctx, &generate(11));
    let mut sink = Measure {
        ctx: ctx.clone(),
        seen: None,
    };
    build_marts(&ctx, &MartsConfig::default(), "Asia/Tokyo", None, &mut sink)
        .await
        .unwrap();
    let (reserved, held) = sink.seen.expect("customer_summary was built");
    assert!(held > 0);
    assert_eq!(
        reserved, held,
        "the pool holds the state tables, and nothing else yet"
    );
    assert_eq!(
        ctx.runtime_env().memory_pool.reserved(),
        0,
        "the state is dropped"
    );
}

/// On a cluster, a mart whose job never finishes (Ballista 55 can leave one waiting after
/// an executor is lost) fails the build with an error naming it once `[engine]
/// mart_timeout_seconds` has passed. The session is marked as a cluster's but runs here, and
/// the sink never returns, as a client waiting on such a job does; the limit is shortened.
#[tokio::test]
async fn a_mart_that_never_finishes_on_a_cluster_fails_naming_it() {
    struct Waiting;
    #[async_trait]
    impl MartSink for Waiting {
        async fn write(
            &mut self,
            _: &str,
            _: SchemaRef,
            _: &[RecordBatch],
        ) -> Result<(), SinkError> {
            Ok(())
        }
        async fn write_stream(
            &mut self,
            _: &SessionContext,
            _: &str,
            _: SchemaRef,
            _: datafusion::execution::SendableRecordBatchStream,
        ) -> Result<u64, SinkError> {
            std::future::pending().await
        }
    }
    let cluster = pipeline::marts::OnCluster {
        url: "ballista://scheduler.test:50050".into(),
        mart_timeout: Some(std::time::Duration::from_millis(200)),
    };
    let config = datafusion::prelude::SessionConfig::new().with_extension(Arc::new(cluster));
    let ctx = SessionContext::new_with_config(config);
    register_orders(&ctx, &generate(7));
    let only = vec!["f2_conversion".to_string()];
    let (cfg, mut sink) = (MartsConfig::default(), Waiting);
    let build = build_marts(&ctx, &cfg, "Asia/Tokyo", Some(&only), &mut sink);
    let err = tokio::time::timeout(std::time::Duration::from_secs(60), build)
        .await
        .expect("the build waited past the mart's limit")
        .unwrap_err();
    // f2_conversion reads customer_summary, which is built first and is the one waiting.
    match &err {
        MartsError::ClusterTimeout { mart, url, .. } => {
            assert_eq!(mart, "customer_summary");
            assert_eq!(url, "ballista://scheduler.test:50050");
        }
        other => panic!("expected a timeout, got {other}"),
    }
    assert!(err.to_string().contains("mart_timeout_seconds"), "{err}");
}

/// `conveyor marts --explain`: each built mart comes with the physical plan it ran, and a
/// mart that reads another reads the version just published to the warehouse.
#[tokio::test(flavor = "multi_thread")]
async fn explain_gives_each_built_mart_its_plan() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    common::write(
        src.path(),
        "orders/a.csv",
        "order_id,customer_id,ordered_at,amount\nR1,C1,2024-05-01 10:00:00,100\nR2,C1,2024-06-01 10:00:00,90000\n",
    );
    let config = common::config(src.path(), wh.path());
    common::ingest(&config).await;
    let mut options = pipeline::marts::publish::MartsOptions {
        only: Some(vec!["vip_customers".to_string()]),
        explain: true,
    };
    let summary = pipeline::marts::publish::run_marts_with(&config, &options)
        .await
        .unwrap();
    let names: Vec<&str> = summary.marts.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["customer_summary", "vip_customers"]);
    let physical = |name: &str| -> String {
        let mart = summary.marts.iter().find(|m| m.name == name).unwrap();
        let parts = mart.plan.as_ref().unwrap();
        let types: Vec<&str> = parts.iter().map(|p| p.plan_type.as_str()).collect();
        assert_eq!(
            types,
            ["physical_plan"],
            "{name}: in-process, no distributed plan"
        );
        parts[0].plan.clone()
    };
    assert!(physical("customer_summary").contains("DataSourceExec"));
    let vip = physical("vip_customers");
    assert!(vip.contains("marts/customer_summary/"), "{vip}");
    assert_eq!(summary.marts[1].rows, 1, "C1 spent 90,100 ≥ 80,000");

    options.explain = false;
    let summary = pipeline::marts::publish::run_marts_with(&config, &options)
        .await
        .unwrap();
    assert!(summary.marts.iter().all(|m| m.plan.is_none()));
}

/// Through the library's marts stage and the command line alike, a broken mart file keeps
/// its typed error: the user reads the file, line and column.
#[tokio::test(flavor = "multi_thread")]
async fn a_broken_mart_reaches_the_user_with_its_file_and_line() {
    let src = tempfile::tempdir().unwrap();
    let wh = tempfile::tempdir().unwrap();
    let sql = tempfile::tempdir().unwrap();
    common::write(
        src.path(),
        "orders/a.csv",
        "order_id,customer_id,ordered_at,amount\nR1,C1,2024-05-01 10:00:00,100\n",
    );
    let path = sql.path().join("broken.sql");
    std::fs::write(
        &path,
        "SELECT customer_id,\n  nope\nFROM customer_summary\n",
    )
    .unwrap();
    let mut config = common::config(src.path(), wh.path());
    common::ingest(&config).await;
    config.marts.sql_dir = Some(sql.path().to_path_buf());
    let only = vec!["broken".to_string()];
    let err = pipeline::marts::publish::run_marts(&config, Some(&only))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            pipeline::Error::Marts(MartsError::Sql {
                line: Some(2),
                column: Some(3),
                ..
            })
        ),
        "{err}"
    );
    let toml = sql.path().join("conveyor.toml");
    std::fs::write(
        &toml,
        format!(
            "[storage]\nwarehouse = {:?}\n\n[marts]\nsql_dir = {:?}\n",
            wh.path().display().to_string(),
            sql.path().display().to_string()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_conveyor"))
        .arg("--config")
        .arg(&toml)
        .args(["marts", "--only", "broken"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{} line 2 column 3", path.display())),
        "{stderr}"
    );
}

#[tokio::test]
async fn a_broken_mart_names_its_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.sql");
    std::fs::write(&path, "-- a mart with a typo\nSELECT customer_id,\n       no_such_column\nFROM customer_summary\n").unwrap();
    let ctx = SessionContext::new();
    let batch = orders_batch(&generate(1));
    ctx.register_table(
        "orders",
        Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap()),
    )
    .unwrap();
    let cfg = MartsConfig {
        sql_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let only = vec!["broken".to_string()];
    let err = build_marts(
        &ctx,
        &cfg,
        "Asia/Tokyo",
        Some(&only),
        &mut Collect::default(),
    )
    .await
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            MartsError::Sql {
                line: Some(3),
                column: Some(8),
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.starts_with(&format!("{} line 3 column 8", path.display())),
        "{msg}"
    );

    std::fs::write(&path, "SELECT customer_id\nFROM customer_summary WHERE )\n").unwrap();
    let err = build_marts(
        &ctx,
        &cfg,
        "Asia/Tokyo",
        Some(&only),
        &mut Collect::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, MartsError::Sql { line: Some(2), .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("broken.sql line 2 column "),
        "{err}"
    );

    let err = build_marts(
        &ctx,
        &MartsConfig::default(),
        "Mars/Olympus",
        None,
        &mut Collect::default(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("Mars/Olympus"), "{err}");
}

/// The customer state the core marts read is computed by a one-pass Rust walk by default
/// and defined in SQL (`sql/state/`): on orders full of ties (same-instant and same-day
/// repeats, excluded statuses, orders after as_of), both give the same three state tables
/// and the same marts, value for value and type for type.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customer_pass_equals_the_sql_definitions() {
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use pipeline::marts::state::{self, Computed};

    let orders = generate(7);
    let mut marts = Vec::new();
    let mut tables = Vec::new();
    for engine in [StateEngine::Pass, StateEngine::Sql] {
        let ctx = SessionContext::new();
        register_orders(&ctx, &orders);
        let cfg = MartsConfig {
            as_of: Some("2025-04-20T12:00:00+09:00".into()),
            vip_top_n: 25,
            customer_state: engine,
            ..Default::default()
        };
        let mut sink = Collect::default();
        build_marts(&ctx, &cfg, "Asia/Tokyo", None, &mut sink)
            .await
            .unwrap();
        marts.push(sink.0);
        // The state tables themselves (build_marts dropped them once read).
        let computed = state::register(&ctx, engine, &[]).await.unwrap();
        assert_eq!(
            matches!(computed, Computed::Pass { .. }),
            engine == StateEngine::Pass,
            "{computed:?}"
        );
        let mut rendered = Vec::new();
        for sql in [
            "SELECT * FROM customer_state ORDER BY customer_id",
            "SELECT * FROM cohort_months ORDER BY cohort_index, month_index",
            "SELECT * FROM year_activity ORDER BY year",
            "SELECT * FROM ladder_steps ORDER BY k, gap_days NULLS LAST",
        ] {
            let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
            let types: Vec<String> = batches[0]
                .schema()
                .fields()
                .iter()
                .map(|f| format!("{} {}", f.name(), f.data_type()))
                .collect();
            rendered.push((types, pretty_format_batches(&batches).unwrap().to_string()));
        }
        tables.push(rendered);
    }
    let (pass, sql) = (&tables[0], &tables[1]);
    for (p, s) in pass.iter().zip(sql) {
        assert_eq!(p.0, s.0, "column types");
        assert!(
            p.1.lines().count() > 6,
            "too few rows to prove much:\n{}",
            p.1
        );
        assert_eq!(p.1, s.1);
    }
    // Same-day repeats exist (a gap of 0 days), so the tie rules were exercised.
    assert!(
        sql[3]
            .1
            .lines()
            .any(|l| l.split('|').nth(2).map(str::trim) == Some("0")),
        "{}",
        sql[3].1
    );

    let (pass, sql) = (&marts[0], &marts[1]);
    assert_eq!(
        pass.keys().collect::<Vec<_>>(),
        sql.keys().collect::<Vec<_>>()
    );
    for (name, p) in pass {
        let s = &sql[name];
        // Names and types; nullability flags may differ (the pass knows a sum has no NULL).
        let fields = |b: &RecordBatch| -> Vec<(String, DataType)> {
            b.schema()
                .fields()
                .iter()
                .map(|f| (f.name().clone(), f.data_type().clone()))
                .collect()
        };
        assert_eq!(fields(p), fields(s), "{name}: columns");
        let sorted = |b: &RecordBatch| {
            let text = pretty_format_batches(std::slice::from_ref(b))
                .unwrap()
                .to_string();
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            lines.sort();
            lines
        };
        assert_eq!(sorted(p), sorted(s), "{name}: rows");
    }
}
