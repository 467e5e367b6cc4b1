//! The latent-class fit of one ladder stage: how many of the customers who reached the stage
//! order again within the same month, how many wait and with which monthly hazard, and how
//! many never return.
//!
//! **Data.** For a stage, `converted[d]` customers placed their next order `d` calendar
//! months after this one (`d = 0`: the same month) and `waiting[c]` customers have not
//! ordered again `c` months after it (`c = 0`: the order was in the last observed month).
//! Every month of an order is complete, so a same-month repeat is observed for everyone:
//! the same-month share is a plain proportion, `n₀ / N`.
//!
//! **Classes.** The other `M = N − n₀` customers belong to a *main* class (weight `w₁`,
//! monthly hazard `q₁`), an optional *slow* class (`w₂`, `q₂`) or never return
//! (`1 − w₁ − w₂`). A customer converting after `d ≥ 1` months has likelihood
//! `Σⱼ wⱼ qⱼ (1−qⱼ)^{d−1}` and one still waiting after `c` months
//! `1 − Σⱼ wⱼ + Σⱼ wⱼ (1−qⱼ)^c`. EM: the E-step gives each observation's class
//! responsibilities in proportion to those terms; the M-step sets `wⱼ` to the class's mean
//! responsibility and `qⱼ` to its converted responsibility over its months at risk (`d`
//! for a conversion after `d` months, `c` for a waiter), the geometric MLE. A two-class
//! mixture of geometric delays is a discrete mixing distribution over the hazard: those
//! still waiting after many months are mostly slow customers rather than lost ones.
//!
//! **Choice.** The slow class is kept only when it improves the log-likelihood by more
//! than BIC's price of its two parameters, `ln(M)`, and is really slower than the main
//! class; otherwise the stage has one class, as the original ladder did.

/// A fitted stage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ClassFit {
    /// `r`: the share who ever order again (same month or later).
    pub repeat_rate: f64,
    /// Same-month share among those who order again.
    pub same_month: f64,
    /// Main-class hazard.
    pub hazard: f64,
    /// Slow class (share among the waiting repeaters, hazard), if chosen.
    pub slow: Option<(f64, f64)>,
    /// Log-likelihood of the chosen fit (without the same-month part).
    pub log_likelihood: f64,
}

/// Mixture weights and hazards of the waiting part.
#[derive(Debug, Clone, Copy)]
struct Mix {
    w: [f64; 2],
    q: [f64; 2],
    classes: usize,
}

impl Mix {
    fn log_lik(&self, converted: &[u64], waiting: &[u64]) -> f64 {
        let mut ll = 0.0;
        for (d, &n) in converted.iter().enumerate().skip(1) {
            if n > 0 {
                let p: f64 = (0..self.classes)
                    .map(|j| self.w[j] * self.q[j] * (1.0 - self.q[j]).powi(d as i32 - 1))
                    .sum();
                ll += n as f64 * p.max(1e-300).ln();
            }
        }
        for (c, &n) in waiting.iter().enumerate() {
            if n > 0 {
                let alive: f64 = (0..self.classes)
                    .map(|j| self.w[j] * (1.0 - self.q[j]).powi(c as i32))
                    .sum();
                let wsum: f64 = self.w[..self.classes].iter().sum();
                ll += n as f64 * (1.0 - wsum + alive).max(1e-300).ln();
            }
        }
        ll
    }

    /// EM from this starting point until the parameters stop moving.
    fn em(mut self, converted: &[u64], waiting: &[u64], m: f64) -> Self {
        let j_n = self.classes;
        for _ in 0..50_000 {
            let mut resp = [0.0f64; 2];
            let mut conv = [0.0f64; 2];
            let mut risk = [0.0f64; 2];
            for (d, &n) in converted.iter().enumerate().skip(1) {
                if n == 0 {
                    continue;
                }
                let terms: Vec<f64> = (0..j_n)
                    .map(|j| self.w[j] * self.q[j] * (1.0 - self.q[j]).powi(d as i32 - 1))
                    .collect();
                let tot: f64 = terms.iter().sum();
                if tot <= 0.0 {
                    continue;
                }
                for j in 0..j_n {
                    let g = n as f64 * terms[j] / tot;
                    resp[j] += g;
                    conv[j] += g;
                    risk[j] += g * d as f64;
                }
            }
            let wsum: f64 = self.w[..j_n].iter().sum();
            for (c, &n) in waiting.iter().enumerate() {
                if n == 0 {
                    continue;
                }
                let terms: Vec<f64> = (0..j_n)
                    .map(|j| self.w[j] * (1.0 - self.q[j]).powi(c as i32))
                    .collect();
                let tot: f64 = 1.0 - wsum + terms.iter().sum::<f64>();
                if tot <= 0.0 {
                    continue;
                }
                for j in 0..j_n {
                    let g = n as f64 * terms[j] / tot;
                    resp[j] += g;
                    risk[j] += g * c as f64;
                }
            }
            let mut next = self;
            for j in 0..j_n {
                next.w[j] = (resp[j] / m).clamp(0.0, 1.0);
                next.q[j] = if risk[j] > 0.0 {
                    (conv[j] / risk[j]).clamp(1e-9, 1.0)
                } else {
                    self.q[j]
                };
            }
            let moved = (0..j_n)
                .map(|j| (next.w[j] - self.w[j]).abs() + (next.q[j] - self.q[j]).abs())
                .sum::<f64>();
            self = next;
            if moved < 1e-12 {
                break;
            }
        }
        self
    }
}

/// Fit a stage (module doc); `None` when nobody converted after a month or more.
pub(crate) fn fit_classes(
    converted: &[u64],
    waiting: &[u64],
    slow_class: bool,
) -> Option<ClassFit> {
    let n0 = converted.first().copied().unwrap_or(0) as f64;
    let later: f64 = converted.iter().skip(1).sum::<u64>() as f64;
    let waiting_n: f64 = waiting.iter().sum::<u64>() as f64;
    let m = later + waiting_n;
    let n = n0 + m;
    if n == 0.0 {
        return None;
    }
    let (one, ll1) = if later > 0.0 {
        let months: f64 = converted
            .iter()
            .enumerate()
            .skip(1)
            .map(|(d, &k)| d as f64 * k as f64)
            .sum();
        let start = Mix {
            w: [0.5, 0.0],
            q: [(later / months).min(0.999), 0.0],
            classes: 1,
        };
        let one = start.em(converted, waiting, m);
        let ll = one.log_lik(converted, waiting);
        (Some(one), ll)
    } else {
        (None, f64::NEG_INFINITY)
    };
    let one = match one {
        Some(one) => one,
        None if n0 > 0.0 => {
            // Only same-month repeats: nobody waits alive.
            return Some(ClassFit {
                repeat_rate: n0 / n,
                same_month: 1.0 - 1e-9,
                hazard: 0.5,
                slow: None,
                log_likelihood: 0.0,
            });
        }
        None => return None,
    };
    let mut chosen = one;
    let mut ll = ll1;
    if slow_class && m >= 30.0 {
        let starts = [(0.7, 1.5, 0.3, 0.2), (0.5, 1.2, 0.5, 0.05)];
        for (share_main, fast, share_slow, slow) in starts {
            let two = Mix {
                w: [one.w[0] * share_main, one.w[0] * share_slow + 0.05],
                q: [(one.q[0] * fast).min(0.999), one.q[0] * slow],
                classes: 2,
            }
            .em(converted, waiting, m);
            let ll2 = two.log_lik(converted, waiting);
            let (fast_j, slow_j) = if two.q[0] >= two.q[1] { (0, 1) } else { (1, 0) };
            let wsum = two.w[0] + two.w[1];
            let distinct = two.q[slow_j] < 0.8 * two.q[fast_j]
                && two.w[slow_j] > 0.01 * wsum
                && two.w[fast_j] > 0.01 * wsum;
            if distinct && ll2 - ll > m.ln() {
                chosen = Mix {
                    w: [two.w[fast_j], two.w[slow_j]],
                    q: [two.q[fast_j], two.q[slow_j]],
                    classes: 2,
                };
                ll = ll2;
            }
        }
    }
    let alive = chosen.w[..chosen.classes].iter().sum::<f64>() * m;
    let repeaters = n0 + alive;
    let slow = (chosen.classes == 2).then(|| {
        let share = chosen.w[1] / (chosen.w[0] + chosen.w[1]);
        (share, chosen.q[1])
    });
    Some(ClassFit {
        repeat_rate: (repeaters / n).clamp(0.0, 1.0),
        same_month: if repeaters > 0.0 {
            (n0 / repeaters).min(1.0 - 1e-9)
        } else {
            0.0
        },
        hazard: chosen.q[0],
        slow,
        log_likelihood: ll,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_censoring_one_class_is_the_simple_estimate() {
        // 100 customers observed 100 months, 10 same-month repeats, 30 later ones (delays
        // 1, 2, 3 ×10 each): r = 40/100, same-month 10/40, q = 30 / 60 = 0.5.
        let mut waiting = vec![0; 101];
        waiting[100] = 60;
        let f = fit_classes(&[10, 10, 10, 10], &waiting, true).unwrap();
        assert!((f.repeat_rate - 0.4).abs() < 1e-6, "{f:?}");
        assert!((f.same_month - 0.25).abs() < 1e-6, "{f:?}");
        assert!((f.hazard - 0.5).abs() < 1e-6, "{f:?}");
        assert_eq!(f.slow, None);
    }

    #[test]
    fn finds_a_slow_class_in_a_two_speed_population() {
        // Expected counts of 100,000 customers: 30 % order monthly with q = 0.6, 30 % with
        // q = 0.05, the rest never; observed for 24 months.
        let (w, q) = ([0.3, 0.3], [0.6, 0.05]);
        let mut converted = vec![0u64; 25];
        for (d, slot) in converted.iter_mut().enumerate().skip(1) {
            let p: f64 = (0..2)
                .map(|j| w[j] * q[j] * (1.0f64 - q[j]).powi(d as i32 - 1))
                .sum();
            *slot = (1e5 * p).round() as u64;
        }
        let mut waiting = vec![0u64; 25];
        let alive: f64 = (0..2).map(|j| w[j] * (1.0f64 - q[j]).powi(24)).sum();
        waiting[24] = (1e5 * (0.4 + alive)).round() as u64;
        let f = fit_classes(&converted, &waiting, true).unwrap();
        let (share, qs) = f.slow.expect("a slow class");
        assert!((f.repeat_rate - 0.6).abs() < 0.01, "{f:?}");
        assert!((f.hazard - 0.6).abs() < 0.01, "{f:?}");
        assert!((share - 0.5).abs() < 0.02, "{f:?}");
        assert!((qs - 0.05).abs() < 0.005, "{f:?}");
    }
}
