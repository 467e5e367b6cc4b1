//! SQL functions the marts need and DataFusion does not have, registered into the session by
//! the runner before any mart is built (so `conveyor query` and `serve` see them too when
//! they share the session):
//!
//! * `sbg_fit(period BIGINT, cancelled BOOLEAN, n DOUBLE)` — aggregate: the
//!   shifted-beta-geometric fit ([`simulator::sbg`]) of the group's subscriptions, each row
//!   `n` subscriptions cancelled in monthly period `period ≥ 1` (`cancelled`) or still active
//!   after `period ≥ 0` whole months. Returns a struct `{alpha, alpha_se, beta, beta_se,
//!   log_likelihood, subscriptions, cancelled, note}`: the parameters are NULL and `note`
//!   says why when the data cannot identify the model (no cancellation, a single period, a
//!   maximum on the edge of the parameter space); `note` is NULL when it was fitted. Rows
//!   with a NULL argument or `n ≤ 0` are ignored; a negative period, or a cancellation in
//!   period 0, is an error naming the value.
//! * `sbg_survival(alpha, beta, t)` — `S(t) = B(α, β+t)/B(α, β)`, the share still
//!   subscribed after `t` months (NULL when an argument is NULL, NaN for `t < 0`).
//! * `sbg_lifetime(alpha, beta, horizon)` — `E[min(T, horizon)] = Σ_{t<horizon} S(t)`, the
//!   expected months begun within the first `horizon` (the truncated mean lifetime, finite
//!   even when `α ≤ 1` makes the mean infinite).
//! * `whole_months(from, to)` — whole calendar months from one local (zone-less) timestamp
//!   to another: the largest `m` with `from + m months ≤ to`, a month after Jan 31 being the
//!   last day of February (chrono's clamping, as the generator adds months); NULL when `to`
//!   is before `from`. Marts pass `to_local_time(at)`, so months follow the configured zone.
//! * `exact_percentile(x, p)` — aggregate: the exact percentile, interpolated at rank
//!   `(n − 1)·p` ([`super::percentile`]); DataFusion's `percentile_cont` rounds it.
//! * `normalize_text(text)` — Unicode NFKC, lowercased and trimmed: full-width letters,
//!   digits and spaces become ASCII, half-width katakana become full-width (ｶﾞ → ガ), so
//!   free text from different exports compares equal. The keyword map of
//!   `cancellation_reasons` is normalised with [`normalize_text`] too.
//!
//! Why UDFs: the sBG maximum likelihood needs Newton iterations and special functions, which
//! SQL cannot express; computing it inside the aggregate keeps the mart a single SQL file
//! whose grouping (overall, per cohort group) is visible in the SQL.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Months};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array, StringArray};
use datafusion::arrow::datatypes::{
    DataType, Field, Fields, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::scalar::ScalarStructBuilder;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::context::SessionContext;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, ColumnarValue, ScalarUDF, Volatility, create_udaf, create_udf,
};
use datafusion::scalar::ScalarValue;
use simulator::SimError;
use simulator::sbg::{Sbg, SbgObservation, fit_sbg};
use unicode_normalization::UnicodeNormalization;

/// Registers every function of this module in `ctx` (replacing same-named ones).
pub fn register(ctx: &SessionContext) {
    for f in aggregate_functions() {
        ctx.register_udaf(f);
    }
    for f in scalar_functions() {
        ctx.register_udf(f);
    }
}

/// The aggregates of this module (`exact_percentile`, `sbg_fit`). A Ballista scheduler and
/// its executors register them too (`crate::cluster`), so a plan naming them runs there.
pub fn aggregate_functions() -> Vec<AggregateUDF> {
    vec![
        super::percentile::udaf(),
        create_udaf(
            "sbg_fit",
            vec![DataType::Int64, DataType::Boolean, DataType::Float64],
            Arc::new(DataType::Struct(sbg_fields())),
            Volatility::Immutable,
            Arc::new(|_| Ok(Box::<SbgAccumulator>::default())),
            Arc::new(vec![DataType::List(Arc::new(Field::new_list_field(
                DataType::Float64,
                true,
            )))]),
        ),
    ]
}

/// The scalar functions of this module (`sbg_survival`, `sbg_lifetime`, `whole_months`,
/// `normalize_text`).
pub fn scalar_functions() -> Vec<ScalarUDF> {
    let local = DataType::Timestamp(TimeUnit::Microsecond, None);
    vec![
        create_udf(
            "sbg_survival",
            vec![DataType::Float64; 3],
            DataType::Float64,
            Volatility::Immutable,
            Arc::new(|args| float3(args, |alpha, beta, t| Sbg { alpha, beta }.survival(t))),
        ),
        create_udf(
            "sbg_lifetime",
            vec![DataType::Float64, DataType::Float64, DataType::Int64],
            DataType::Float64,
            Volatility::Immutable,
            Arc::new(|args| {
                let arrays = ColumnarValue::values_to_arrays(args)?;
                let (a, b) = (
                    arrays[0].as_primitive::<Float64Type>(),
                    arrays[1].as_primitive::<Float64Type>(),
                );
                let h = arrays[2].as_primitive::<Int64Type>();
                let out: Float64Array = (0..a.len())
                    .map(|i| {
                        (a.is_valid(i) && b.is_valid(i) && h.is_valid(i)).then(|| {
                            let horizon = u32::try_from(h.value(i).max(0)).unwrap_or(u32::MAX);
                            Sbg {
                                alpha: a.value(i),
                                beta: b.value(i),
                            }
                            .truncated_mean_lifetime(horizon)
                        })
                    })
                    .collect();
                Ok(ColumnarValue::Array(Arc::new(out)))
            }),
        ),
        create_udf(
            "whole_months",
            vec![local.clone(), local],
            DataType::Int64,
            Volatility::Immutable,
            Arc::new(|args| {
                let arrays = ColumnarValue::values_to_arrays(args)?;
                let from = arrays[0].as_primitive::<TimestampMicrosecondType>();
                let to = arrays[1].as_primitive::<TimestampMicrosecondType>();
                let out: Int64Array = (0..from.len())
                    .map(|i| {
                        (from.is_valid(i) && to.is_valid(i))
                            .then(|| whole_months(from.value(i), to.value(i)))
                            .flatten()
                    })
                    .collect();
                Ok(ColumnarValue::Array(Arc::new(out)))
            }),
        ),
        create_udf(
            "normalize_text",
            vec![DataType::Utf8],
            DataType::Utf8,
            Volatility::Immutable,
            Arc::new(|args| {
                let arrays = ColumnarValue::values_to_arrays(args)?;
                let s = arrays[0].as_string::<i32>();
                let out: StringArray = s.iter().map(|v| v.map(normalize_text)).collect();
                Ok(ColumnarValue::Array(Arc::new(out)))
            }),
        ),
    ]
}

/// Whole months from `from` to `to`, both microseconds of local wall-clock time (module
/// doc); `None` when `to < from` or out of range.
pub fn whole_months(from: i64, to: i64) -> Option<i64> {
    if to < from {
        return None;
    }
    let (f, t) = (
        DateTime::from_timestamp_micros(from)?.naive_utc(),
        DateTime::from_timestamp_micros(to)?.naive_utc(),
    );
    let m = (i64::from(t.year()) * 12 + i64::from(t.month0()))
        - (i64::from(f.year()) * 12 + i64::from(f.month0()));
    let anniversary = f.checked_add_months(Months::new(u32::try_from(m).ok()?))?;
    Some(if anniversary > t { m - 1 } else { m })
}

/// NFKC, lowercase, trimmed (module doc).
pub fn normalize_text(s: &str) -> String {
    s.nfkc()
        .collect::<String>()
        .to_lowercase()
        .trim()
        .to_string()
}

/// Applies `f` row by row to three `DOUBLE` arguments; NULL in, NULL out.
fn float3(args: &[ColumnarValue], f: impl Fn(f64, f64, f64) -> f64) -> Result<ColumnarValue> {
    let arrays = ColumnarValue::values_to_arrays(args)?;
    let [a, b, c] = [0, 1, 2].map(|i| arrays[i].as_primitive::<Float64Type>());
    let out: Float64Array = (0..a.len())
        .map(|i| {
            (a.is_valid(i) && b.is_valid(i) && c.is_valid(i))
                .then(|| f(a.value(i), b.value(i), c.value(i)))
        })
        .collect();
    Ok(ColumnarValue::Array(Arc::new(out)))
}

/// The fields of `sbg_fit`'s struct.
fn sbg_fields() -> Fields {
    let f = |name: &str, t: DataType| Field::new(name, t, true);
    Fields::from(vec![
        f("alpha", DataType::Float64),
        f("alpha_se", DataType::Float64),
        f("beta", DataType::Float64),
        f("beta_se", DataType::Float64),
        f("log_likelihood", DataType::Float64),
        f("subscriptions", DataType::Float64),
        f("cancelled", DataType::Float64),
        f("note", DataType::Utf8),
    ])
}

/// `sbg_fit`'s state: subscriptions by (period, cancelled). Partial states travel as one
/// list of `(period, cancelled 0/1, n)` triples.
#[derive(Debug, Default)]
struct SbgAccumulator {
    counts: BTreeMap<(u32, bool), f64>,
}

impl SbgAccumulator {
    fn add(&mut self, period: i64, cancelled: bool, n: f64) -> Result<()> {
        if n.is_nan() || n <= 0.0 {
            return Ok(());
        }
        let Ok(p) = u32::try_from(period) else {
            return Err(DataFusionError::Execution(format!(
                "sbg_fit: period must be a whole number of months >= 0, got {period}"
            )));
        };
        if cancelled && p == 0 {
            return Err(DataFusionError::Execution(
                "sbg_fit: a cancellation happens in a period >= 1 (the first month is period \
                 1), got period 0"
                    .into(),
            ));
        }
        *self.counts.entry((p, cancelled)).or_default() += n;
        Ok(())
    }
}

impl Accumulator for SbgAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let period = values[0].as_primitive::<Int64Type>();
        let cancelled = values[1].as_boolean();
        let n = values[2].as_primitive::<Float64Type>();
        for i in 0..period.len() {
            if period.is_valid(i) && cancelled.is_valid(i) && n.is_valid(i) {
                self.add(period.value(i), cancelled.value(i), n.value(i))?;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let flat: Vec<ScalarValue> = self
            .counts
            .iter()
            .flat_map(|(&(p, c), &n)| {
                [f64::from(p), if c { 1.0 } else { 0.0 }, n].map(|v| ScalarValue::Float64(Some(v)))
            })
            .collect();
        Ok(vec![ScalarValue::List(ScalarValue::new_list_nullable(
            &flat,
            &DataType::Float64,
        ))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        for i in 0..lists.len() {
            if lists.is_null(i) {
                continue;
            }
            let values = lists.value(i);
            let v = values.as_primitive::<Float64Type>();
            for k in (0..v.len().saturating_sub(2)).step_by(3) {
                self.add(v.value(k) as i64, v.value(k + 1) == 1.0, v.value(k + 2))?;
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let data: Vec<SbgObservation> = self
            .counts
            .iter()
            .map(|(&(period, churned), &count)| SbgObservation {
                period,
                churned,
                count,
            })
            .collect();
        let subscriptions: f64 = data.iter().map(|o| o.count).sum();
        let cancelled: f64 = data.iter().filter(|o| o.churned).map(|o| o.count).sum();
        let (values, note) = match fit_sbg(&data) {
            Ok(fit) => (
                [
                    Some(fit.params.alpha),
                    finite(fit.se.alpha),
                    Some(fit.params.beta),
                    finite(fit.se.beta),
                    Some(fit.log_likelihood),
                ],
                None,
            ),
            Err(SimError::InsufficientData { reason, .. }) => ([None; 5], Some(reason)),
            Err(e) => return Err(DataFusionError::Execution(format!("sbg_fit: {e}"))),
        };
        let mut b = ScalarStructBuilder::new();
        let fields = sbg_fields();
        for (field, v) in fields.iter().zip(values) {
            b = b.with_scalar(field.clone(), ScalarValue::Float64(v));
        }
        b = b
            .with_scalar(fields[5].clone(), ScalarValue::Float64(Some(subscriptions)))
            .with_scalar(fields[6].clone(), ScalarValue::Float64(Some(cancelled)))
            .with_scalar(fields[7].clone(), ScalarValue::Utf8(note));
        b.build()
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.counts.len() * 48
    }
}

/// `Some(v)` when finite (a standard error is NaN when the information is singular).
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::BooleanArray;

    #[test]
    fn normalizes_widths_and_case() {
        assert_eq!(normalize_text(" 価格が高い　"), "価格が高い");
        assert_eq!(normalize_text("ﾖｹｲﾅﾓﾉ ｶﾞ ＡＢＣ１"), "ヨケイナモノ ガ abc1");
    }

    #[test]
    fn whole_months_clamp_like_chrono() {
        let at = |s: &str| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
                .unwrap()
                .and_utc()
                .timestamp_micros()
        };
        let m = |a: &str, b: &str| whole_months(at(a), at(b));
        assert_eq!(m("2024-01-15 10:00:00", "2024-02-15 09:59:59"), Some(0));
        assert_eq!(m("2024-01-15 10:00:00", "2024-02-15 10:00:00"), Some(1));
        // Jan 31 + 1 month = Feb 29 (2024), + 2 months = Mar 31.
        assert_eq!(m("2024-01-31 12:00:00", "2024-02-29 12:00:00"), Some(1));
        assert_eq!(m("2024-01-31 12:00:00", "2024-03-30 12:00:00"), Some(1));
        assert_eq!(m("2024-01-31 12:00:00", "2024-03-31 12:00:00"), Some(2));
        assert_eq!(m("2023-12-01 00:00:00", "2025-01-01 00:00:00"), Some(13));
        assert_eq!(m("2024-03-01 00:00:00", "2024-02-01 00:00:00"), None);
    }

    /// Partial states merged (as DataFusion does across partitions) give the fit of all rows.
    #[test]
    fn merged_states_fit_like_one() {
        let rows: [(i64, bool, f64); 5] = [
            (1, true, 369.0),
            (2, true, 163.0),
            (3, true, 86.0),
            (3, false, 20.0),
            (4, false, 362.0),
        ];
        let batch = |rows: &[(i64, bool, f64)]| -> Vec<ArrayRef> {
            vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))),
                Arc::new(rows.iter().map(|r| Some(r.1)).collect::<BooleanArray>()),
                Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.2))),
            ]
        };
        let mut whole = SbgAccumulator::default();
        whole.update_batch(&batch(&rows)).unwrap();
        let (mut a, mut b) = (SbgAccumulator::default(), SbgAccumulator::default());
        a.update_batch(&batch(&[(1, true, 360.0), rows[1]]))
            .unwrap();
        b.update_batch(&batch(&rows[2..])).unwrap();
        // b holds the rest of period 1's cancellations: the counts of one key add up.
        b.update_batch(&batch(&[(1, true, 9.0)])).unwrap();
        let state: Vec<ArrayRef> = b
            .state()
            .unwrap()
            .iter()
            .map(|v| v.to_array().unwrap())
            .collect();
        a.merge_batch(&state).unwrap();
        assert_eq!(a.counts, whole.counts);
        assert_eq!(a.evaluate().unwrap(), whole.evaluate().unwrap());
    }

    #[tokio::test]
    async fn sbg_fit_in_sql_matches_the_simulator() {
        // Fader & Hardie's High End segment as rows of (period, cancelled, n); the fit is the
        // simulator's (its golden test checks the published values).
        let ctx = SessionContext::new();
        register(&ctx);
        let survivors = [869, 743, 653, 593, 551, 517, 491];
        let mut rows = Vec::new();
        let mut previous = 1000;
        for (i, s) in survivors.iter().enumerate() {
            rows.push(format!("({}, true, {})", i + 1, previous - s));
            previous = *s;
        }
        rows.push(format!("(7, false, {previous})"));
        let sql = format!(
            "SELECT f['alpha'], f['beta'], f['note'], sbg_survival(f['alpha'], f['beta'], 7), \
             sbg_lifetime(f['alpha'], f['beta'], 3) FROM (SELECT sbg_fit(p, c, n) AS f \
             FROM (VALUES {}) AS t(p, c, n))",
            rows.join(", ")
        );
        let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
        let col = |i: usize| batches[0].column(i).as_primitive::<Float64Type>().value(0);
        let m = Sbg {
            alpha: col(0),
            beta: col(1),
        };
        assert!((m.alpha - 0.668).abs() < 5e-4 && (m.beta - 3.806).abs() < 5e-4);
        assert!(batches[0].column(2).is_null(0));
        assert!((col(3) - m.survival(7.0)).abs() < 1e-15);
        assert!((col(4) - (1.0 + m.survival(1.0) + m.survival(2.0))).abs() < 1e-12);
        // Nothing cancelled: NULL parameters and a reason.
        let batches = ctx
            .sql("SELECT f['alpha'], f['note'] FROM (SELECT sbg_fit(3, false, 10.0) AS f)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert!(batches[0].column(0).is_null(0));
        assert!(!batches[0].column(1).is_null(0));
        // A negative period is an error that names it.
        let e = ctx
            .sql("SELECT sbg_fit(-1, false, 1.0)")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap_err();
        assert!(e.to_string().contains("got -1"), "{e}");
    }
}
