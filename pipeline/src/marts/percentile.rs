//! `exact_percentile(x DOUBLE, p DOUBLE [, weight BIGINT])`: the exact `p`-th percentile of a
//! group, linearly interpolated at rank `(n − 1)·p` between the two neighbouring sorted
//! values — what `docs/metrics.md` promises, what DuckDB's `quantile_cont` and numpy's
//! default compute. With `weight`, a row stands for `weight` equal values (rows already
//! counted, as in `ladder_steps`); a weight ≤ 0 or NULL adds nothing.
//!
//! DataFusion 55's `percentile_cont` rounds the interpolation weight down to a multiple of
//! 10⁻⁶ (102.599999 where the exact answer is 102.6), so the marts use this instead. Values
//! are counted by distinct value (a day gap takes a few hundred values over millions of
//! rows), so memory is bounded by the distinct values, not the rows. NULLs are ignored; an
//! empty group gives NULL; `p` must be a constant in [0, 1].

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::expr_fn::SimpleAggregateUDF;
use datafusion::logical_expr::{Accumulator, AggregateUDF, Signature, TypeSignature, Volatility};
use datafusion::scalar::ScalarValue;

/// The aggregate, for [`super::functions::register`].
pub fn udaf() -> AggregateUDF {
    let f64s = vec![DataType::Float64, DataType::Float64];
    let weighted = vec![DataType::Float64, DataType::Float64, DataType::Int64];
    AggregateUDF::from(SimpleAggregateUDF::new_with_signature(
        "exact_percentile",
        Signature::one_of(
            vec![TypeSignature::Exact(f64s), TypeSignature::Exact(weighted)],
            Volatility::Immutable,
        ),
        DataType::Float64,
        Arc::new(|_| Ok(Box::<Percentile>::default())),
        vec![
            Arc::new(Field::new(
                "counts",
                DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true))),
                true,
            )),
            Arc::new(Field::new("p", DataType::Float64, true)),
        ],
    ))
}

/// Counts per distinct value (keyed by a total order on the bits), and `p`.
#[derive(Debug, Default)]
struct Percentile {
    counts: BTreeMap<OrdF64, u64>,
    p: Option<f64>,
}

#[derive(Debug, Clone, Copy)]
struct OrdF64(f64);
impl PartialEq for OrdF64 {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for OrdF64 {}
impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OrdF64 {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl Percentile {
    fn set_p(&mut self, p: f64) -> Result<()> {
        if !(0.0..=1.0).contains(&p) {
            return Err(DataFusionError::Execution(format!(
                "exact_percentile: p must be between 0 and 1, got {p}"
            )));
        }
        match self.p {
            Some(q) if q != p => Err(DataFusionError::Execution(format!(
                "exact_percentile: p must be a constant, got {q} and {p}"
            ))),
            _ => {
                self.p = Some(p);
                Ok(())
            }
        }
    }

    fn add(&mut self, v: f64, n: u64) {
        // -0.0 and 0.0 are one value.
        let v = if v == 0.0 { 0.0 } else { v };
        *self.counts.entry(OrdF64(v)).or_default() += n;
    }

    /// The value of 0-based rank `r` in sorted order.
    fn at_rank(&self, r: u64) -> f64 {
        let mut seen = 0;
        for (v, n) in &self.counts {
            seen += n;
            if r < seen {
                return v.0;
            }
        }
        f64::NAN
    }
}

impl Accumulator for Percentile {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let x = values[0].as_primitive::<Float64Type>();
        let p = values[1].as_primitive::<Float64Type>();
        let weight = values.get(2).map(|w| w.as_primitive::<Int64Type>());
        for i in 0..x.len() {
            if p.is_valid(i) {
                self.set_p(p.value(i))?;
            }
            let n = match weight {
                None => 1,
                Some(w) if w.is_valid(i) => u64::try_from(w.value(i)).unwrap_or(0),
                Some(_) => 0,
            };
            if x.is_valid(i) && n > 0 {
                self.add(x.value(i), n);
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let flat: Vec<ScalarValue> = self
            .counts
            .iter()
            .flat_map(|(v, &n)| [v.0, n as f64].map(|x| ScalarValue::Float64(Some(x))))
            .collect();
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list_nullable(&flat, &DataType::Float64)),
            ScalarValue::Float64(self.p),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        let ps = states[1].as_primitive::<Float64Type>();
        for i in 0..lists.len() {
            if ps.is_valid(i) {
                self.set_p(ps.value(i))?;
            }
            if lists.is_null(i) {
                continue;
            }
            let values = lists.value(i);
            let v = values.as_primitive::<Float64Type>();
            for k in (0..v.len().saturating_sub(1)).step_by(2) {
                self.add(v.value(k), v.value(k + 1) as u64);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let n: u64 = self.counts.values().sum();
        let (Some(p), true) = (self.p, n > 0) else {
            return Ok(ScalarValue::Float64(None));
        };
        let pos = (n - 1) as f64 * p;
        let lo = pos.floor();
        let (below, above) = (self.at_rank(lo as u64), self.at_rank(pos.ceil() as u64));
        Ok(ScalarValue::Float64(Some(
            below + (above - below) * (pos - lo),
        )))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.counts.len() * 48
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Float64Array;

    fn percentile(values: &[Option<f64>], p: f64) -> Option<f64> {
        let mut acc = Percentile::default();
        let x: ArrayRef = Arc::new(Float64Array::from(values.to_vec()));
        let ps: ArrayRef = Arc::new(Float64Array::from(vec![p; values.len()]));
        acc.update_batch(&[x, ps]).unwrap();
        match acc.evaluate().unwrap() {
            ScalarValue::Float64(v) => v,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn interpolates_at_n_minus_one_times_p() {
        // Sorted 1, 2, 2, 10: p = 0.25 → rank 0.75 → 1 + 0.75·(2 − 1) = 1.75;
        // p = 0.9 → rank 2.7 → 2 + 0.7·(10 − 2) = 7.6; p = 0.5 → rank 1.5 → 2.
        let v = [Some(10.0), Some(2.0), None, Some(1.0), Some(2.0)];
        assert_eq!(percentile(&v, 0.25), Some(1.75));
        assert_eq!(percentile(&v, 0.5), Some(2.0));
        assert!((percentile(&v, 0.9).unwrap() - 7.6).abs() < 1e-12);
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&v, 1.0), Some(10.0));
        assert_eq!(percentile(&[None], 0.5), None);
    }

    #[test]
    fn the_case_datafusion_rounds_comes_out_exact() {
        // 145 values 0..=144 shifted so rank 129.6 falls between 102 and 103: 102.6 exactly
        // as numpy.percentile(range(145) + (-27), 90) gives.
        let v: Vec<Option<f64>> = (0..145).map(|i| Some(f64::from(i) - 27.0)).collect();
        let got = percentile(&v, 0.9).unwrap();
        assert!((got - 102.6).abs() < 1e-9, "{got}");
    }

    #[test]
    fn a_weight_counts_a_row_that_many_times() {
        // 1 ×3, 4 ×1, 10 ×2 (and a NULL-weight row ignored) is 1, 1, 1, 4, 10, 10:
        // the median is at rank 2.5, between 1 and 4 → 2.5; p = 0.9 → rank 4.5 → 10.
        let mut acc = Percentile::default();
        let x: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 10.0, 4.0, 7.0]));
        let p: ArrayRef = Arc::new(Float64Array::from(vec![0.5; 4]));
        let w: ArrayRef = Arc::new(datafusion::arrow::array::Int64Array::from(vec![
            Some(3),
            Some(2),
            Some(1),
            None,
        ]));
        acc.update_batch(&[x, p, w]).unwrap();
        assert_eq!(acc.evaluate().unwrap(), ScalarValue::Float64(Some(2.5)));
    }

    #[test]
    fn merged_states_equal_one_pass() {
        let mut a = Percentile::default();
        let mut b = Percentile::default();
        let x1: ArrayRef = Arc::new(Float64Array::from(vec![5.0, 1.0]));
        let x2: ArrayRef = Arc::new(Float64Array::from(vec![3.0, 3.0, 9.0]));
        let p = |n: usize| -> ArrayRef { Arc::new(Float64Array::from(vec![0.5; n])) };
        a.update_batch(&[x1, p(2)]).unwrap();
        b.update_batch(&[x2, p(3)]).unwrap();
        let state: Vec<ArrayRef> = b
            .state()
            .unwrap()
            .into_iter()
            .map(|s| s.to_array().unwrap())
            .collect();
        a.merge_batch(&state).unwrap();
        // 1, 3, 3, 5, 9: the median is 3.
        assert_eq!(a.evaluate().unwrap(), ScalarValue::Float64(Some(3.0)));
        let mut bad = Percentile::default();
        let x: ArrayRef = Arc::new(Float64Array::from(vec![1.0]));
        let p2: ArrayRef = Arc::new(Float64Array::from(vec![1.5]));
        assert!(bad.update_batch(&[x, p2]).is_err());
    }
}
