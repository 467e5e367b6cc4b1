//! `[marts]` settings: every parameter the mart SQL uses.
//!
//! The SQL files never hard-code a business number; they read these values through the
//! template parameters the marts stage renders. The defaults encode the
//! "belt-conveyor" method (`docs/metrics.md`) (VIP = ¥80,000 or 5 orders, top 100; targets F2 87%,
//! 1-year LTV ¥18,000, repeat rate 60%). Money thresholds are whole units of the currency
//! (yen by default).

use std::path::PathBuf;

use serde::Deserialize;

/// A `[marts]` setting out of range or inconsistent; the marts stage reports it as
/// `MartsError::Config`, the configuration check as an error of key `marts`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("marts config: {key}: {message}")]
pub struct MartsConfigError {
    /// The offending key, as written in `[marts]`.
    pub key: &'static str,
    /// What is wrong and what is expected.
    pub message: String,
}

/// The `[marts]` section of `conveyor.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MartsConfig {
    /// Point in time the marts describe. RFC 3339 with offset (`2024-03-31T23:59:59+09:00`),
    /// a local date-time in the configured zone (`2024-03-31T12:00:00`), or a local date
    /// (`2024-03-31`, meaning the end of that day). Orders after it are ignored.
    /// Default: the latest counted `ordered_at` in the data.
    pub as_of: Option<String>,
    /// Order statuses that do not count (compared lowercase). An order with a NULL status
    /// counts. Default `["cancelled", "returned"]`.
    pub excluded_statuses: Vec<String>,
    /// Upper edges of the fan-matrix spend buckets, strictly increasing, whole currency units.
    /// Default `[10000, 30000, 50000, 80000]` → buckets 0-10000, 10000-30000, 30000-50000,
    /// 50000-80000, 80000+ (lower edge inclusive).
    pub spend_bucket_edges: Vec<i64>,
    /// VIP if total spend ≥ this (whole currency units). Default 80000.
    pub vip_min_amount: i64,
    /// … or if the customer has ≥ this many counted orders. Default 5.
    pub vip_min_orders: i64,
    /// Only the top N eligible customers by total spend are VIP. Default 100.
    pub vip_top_n: i64,
    /// Rank of customers below every `member_ranks` threshold. Default `"Regular"`.
    pub base_rank: String,
    /// Member ranks by total spend, strictly increasing `min_amount`; a customer gets the
    /// highest rank whose `min_amount` their total reaches. Default Gold ≥ 30000,
    /// Platinum ≥ 80000, Diamond ≥ 200000.
    pub member_ranks: Vec<MemberRank>,
    /// The method's claim that `nps_ltv` checks: promoters' mean `ltv_365` is this many
    /// times detractors' (推奨者のLTVは批判者の約2.4倍). A ratio > 0. Default 2.4.
    pub nps_claimed_ltv_ratio: f64,
    /// Target F2 rate (share of a year's new customers who bought twice). Default 0.87.
    pub target_f2_rate: f64,
    /// Target 1-year LTV (mean `ltv_365`), whole currency units. Default 18000.
    pub target_ltv_365: i64,
    /// Target annual repeat rate. Default 0.60.
    pub target_repeat_rate: f64,
    /// Months between the two fan-matrix snapshots of `fan_matrix_movement` and
    /// `customer_movement`: cells at as_of − this many calendar months and at as_of.
    /// Default 12.
    pub movement_period_months: u32,
    /// `lapsing_customers` lists customers at most this many days past their stage's P80:
    /// the ones slipping now, not those lost years ago (0: everyone past the P80).
    /// Default 90.
    pub lapsing_window_days: u32,
    /// How `subscription_sbg` pools start cohorts for its per-group fits: `"month"`,
    /// `"quarter"` or `"year"` of the subscription's start (local time). Default `"quarter"`.
    pub subscription_cohort_group: String,
    /// Months `subscription_sbg` projects survival for, also the horizon of its truncated
    /// expected lifetime. Default 24.
    pub subscription_projection_months: i64,
    /// Cancellation reasons → categories for `cancellation_reasons`: a reason belongs to the
    /// first category (in this order) one of whose keywords it contains, both compared after
    /// NFKC normalisation and lowercasing (full-/half-width variants match); a reason
    /// matching none is `other`, an empty one `unknown`. Default: the method's three,
    /// `doesnt_suit_or_no_effect`, `product_left_over`, `too_expensive`.
    pub cancellation_categories: Vec<CancellationCategory>,
    /// Directory of `.sql` files overriding (same file name) or adding marts to the ones built
    /// into the binary. Default: none.
    pub sql_dir: Option<PathBuf>,
    /// The 1-3-2 rule's window after the first order, in days: touches count in
    /// `[first_order_at, first_order_at + N days)`. Default 30 (the method's "one month").
    pub rule_132_window_days: i64,
    /// Approaches (contacts) a first-time buyer needs in the window. Default 3.
    pub rule_132_min_approaches: i64,
    /// Offers a first-time buyer needs in the window. Default 2.
    pub rule_132_min_offers: i64,
    /// How the customer state the core marts read (`sql/state/`) is computed: `"pass"`, one
    /// read of the orders walking each customer once in Rust, or `"sql"`, the SQL
    /// definitions planned by DataFusion (slower; the same tables). Default `"pass"`.
    pub customer_state: StateEngine,
}

/// How the customer state is computed (`[marts] customer_state`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StateEngine {
    /// The one-pass Rust walk (the default).
    #[default]
    Pass,
    /// The SQL definitions in `sql/state/`, planned by DataFusion.
    Sql,
}

/// One cancellation-reason category and the keywords that put a reason in it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancellationCategory {
    /// Category name, e.g. `"too_expensive"` (not `other` or `unknown`, which are implied).
    pub category: String,
    /// Substrings of the reason text, e.g. `["高い", "価格"]`.
    pub keywords: Vec<String>,
}

/// The default keyword map: the method's three reasons (体に合わない・効果が実感できない,
/// 商品が余っている, 価格が高い) and their usual wordings.
fn default_cancellation_categories() -> Vec<CancellationCategory> {
    let cat = |category: &str, keywords: &[&str]| CancellationCategory {
        category: category.into(),
        keywords: keywords.iter().map(|k| k.to_string()).collect(),
    };
    vec![
        cat(
            "doesnt_suit_or_no_effect",
            &["合わな", "効果", "実感", "効かな", "肌荒れ", "かぶれ"],
        ),
        cat(
            "product_left_over",
            &[
                "余っ",
                "余る",
                "余り",
                "残っ",
                "在庫",
                "使い切れ",
                "溜ま",
                "たまっ",
            ],
        ),
        cat(
            "too_expensive",
            &[
                "高い", "高額", "価格", "値段", "料金", "金額", "値上", "負担",
            ],
        ),
    ]
}

/// One member rank: customers whose total spend reaches `min_amount` hold `name`
/// (unless a higher rank applies).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberRank {
    /// Display name, e.g. `"Gold"`.
    pub name: String,
    /// Minimum total spend, whole currency units.
    pub min_amount: i64,
}

impl Default for MartsConfig {
    fn default() -> Self {
        Self {
            as_of: None,
            excluded_statuses: vec!["cancelled".into(), "returned".into()],
            spend_bucket_edges: vec![10_000, 30_000, 50_000, 80_000],
            vip_min_amount: 80_000,
            vip_min_orders: 5,
            vip_top_n: 100,
            base_rank: "Regular".into(),
            member_ranks: vec![
                MemberRank {
                    name: "Gold".into(),
                    min_amount: 30_000,
                },
                MemberRank {
                    name: "Platinum".into(),
                    min_amount: 80_000,
                },
                MemberRank {
                    name: "Diamond".into(),
                    min_amount: 200_000,
                },
            ],
            nps_claimed_ltv_ratio: 2.4,
            target_f2_rate: 0.87,
            target_ltv_365: 18_000,
            target_repeat_rate: 0.60,
            movement_period_months: 12,
            lapsing_window_days: 90,
            subscription_cohort_group: "quarter".into(),
            subscription_projection_months: 24,
            cancellation_categories: default_cancellation_categories(),
            sql_dir: None,
            rule_132_window_days: 30,
            rule_132_min_approaches: 3,
            rule_132_min_offers: 2,
            customer_state: StateEngine::Pass,
        }
    }
}

impl MartsConfig {
    /// Checks ranges and orderings; the error names the key and what is expected.
    pub fn validate(&self) -> Result<(), MartsConfigError> {
        let bad = |key: &'static str, message: String| Err(MartsConfigError { key, message });
        if self.spend_bucket_edges.is_empty() {
            return bad("spend_bucket_edges", "needs at least one edge".into());
        }
        if self.spend_bucket_edges[0] <= 0 {
            return bad("spend_bucket_edges", "edges must be > 0".into());
        }
        if self.spend_bucket_edges.windows(2).any(|w| w[0] >= w[1]) {
            return bad(
                "spend_bucket_edges",
                format!(
                    "must be strictly increasing, got {:?}",
                    self.spend_bucket_edges
                ),
            );
        }
        if self.vip_min_amount < 0 {
            return bad("vip_min_amount", "must be ≥ 0".into());
        }
        if self.vip_min_orders < 1 {
            return bad("vip_min_orders", "must be ≥ 1".into());
        }
        if self.vip_top_n < 0 {
            return bad("vip_top_n", "must be ≥ 0".into());
        }
        if self.base_rank.trim().is_empty() {
            return bad("base_rank", "must not be empty".into());
        }
        for r in &self.member_ranks {
            if r.name.trim().is_empty() {
                return bad("member_ranks", "every rank needs a name".into());
            }
            if r.min_amount < 0 {
                return bad(
                    "member_ranks",
                    format!("{}: min_amount must be ≥ 0", r.name),
                );
            }
        }
        if self
            .member_ranks
            .windows(2)
            .any(|w| w[0].min_amount >= w[1].min_amount)
        {
            return bad(
                "member_ranks",
                "min_amount must be strictly increasing from the lowest rank to the highest".into(),
            );
        }
        if !["month", "quarter", "year"].contains(&self.subscription_cohort_group.as_str()) {
            return bad(
                "subscription_cohort_group",
                format!(
                    "must be \"month\", \"quarter\" or \"year\", got {:?}",
                    self.subscription_cohort_group
                ),
            );
        }
        if !(1..=600).contains(&self.subscription_projection_months) {
            return bad(
                "subscription_projection_months",
                format!(
                    "must be a number of months from 1 to 600, got {}",
                    self.subscription_projection_months
                ),
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        for c in &self.cancellation_categories {
            let name = c.category.trim();
            if name.is_empty() || name == "other" || name == "unknown" {
                return bad(
                    "cancellation_categories",
                    format!(
                        "a category needs a name other than \"other\" and \"unknown\" (they are \
                         implied), got {:?}",
                        c.category
                    ),
                );
            }
            if !seen.insert(name) {
                return bad(
                    "cancellation_categories",
                    format!("category {name:?} is listed twice"),
                );
            }
            if c.keywords.is_empty() || c.keywords.iter().any(|k| k.trim().is_empty()) {
                return bad(
                    "cancellation_categories",
                    format!("{name}: needs at least one keyword, and no empty keyword"),
                );
            }
        }
        if !(self.nps_claimed_ltv_ratio.is_finite() && self.nps_claimed_ltv_ratio > 0.0) {
            return bad(
                "nps_claimed_ltv_ratio",
                format!(
                    "must be a ratio > 0 (promoters' LTV ÷ detractors', e.g. 2.4), got {}",
                    self.nps_claimed_ltv_ratio
                ),
            );
        }
        for (key, v) in [
            ("target_f2_rate", self.target_f2_rate),
            ("target_repeat_rate", self.target_repeat_rate),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(key, format!("must be a rate between 0 and 1, got {v}"));
            }
        }
        if self.target_ltv_365 < 0 {
            return bad("target_ltv_365", "must be ≥ 0".into());
        }
        if !(1..=1200).contains(&self.movement_period_months) {
            return bad(
                "movement_period_months",
                format!(
                    "must be a whole number of months from 1 to 1200, got {}",
                    self.movement_period_months
                ),
            );
        }
        if self.lapsing_window_days > 36_600 {
            return bad(
                "lapsing_window_days",
                format!(
                    "must be a whole number of days from 0 (no limit) to 36600, got {}",
                    self.lapsing_window_days
                ),
            );
        }
        if !(1..=3660).contains(&self.rule_132_window_days) {
            return bad(
                "rule_132_window_days",
                format!(
                    "must be a number of days from 1 to 3660, got {}",
                    self.rule_132_window_days
                ),
            );
        }
        for (key, v) in [
            ("rule_132_min_approaches", self.rule_132_min_approaches),
            ("rule_132_min_offers", self.rule_132_min_offers),
        ] {
            if v < 0 {
                return bad(key, format!("must be a count ≥ 0, got {v}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_match_the_method() {
        let c = MartsConfig::default();
        c.validate().unwrap();
        assert_eq!(c.vip_min_amount, 80_000);
        assert_eq!(c.vip_min_orders, 5);
        assert_eq!(c.vip_top_n, 100);
        assert_eq!(c.target_ltv_365, 18_000);
        assert_eq!(
            (
                c.rule_132_window_days,
                c.rule_132_min_approaches,
                c.rule_132_min_offers
            ),
            (30, 3, 2)
        );
    }

    #[test]
    fn rule_132_keys_are_checked() {
        let c: MartsConfig = toml::from_str("rule_132_window_days = 14").unwrap();
        assert_eq!(c.rule_132_window_days, 14);
        for (text, key) in [
            ("rule_132_window_days = 0", "rule_132_window_days"),
            ("rule_132_min_offers = -1", "rule_132_min_offers"),
            ("rule_132_min_approaches = -2", "rule_132_min_approaches"),
        ] {
            let c: MartsConfig = toml::from_str(text).unwrap();
            let e = c.validate().unwrap_err();
            assert_eq!(e.key, key, "{text}: {e}");
        }
    }

    #[test]
    fn toml_overrides_and_rejects_unknown_keys() {
        let c: MartsConfig = toml::from_str(
            "vip_top_n = 10\nspend_bucket_edges = [5000, 20000]\n[[member_ranks]]\nname = \"Silver\"\nmin_amount = 1000\n",
        )
        .unwrap();
        assert_eq!(c.vip_top_n, 10);
        assert_eq!(c.spend_bucket_edges, vec![5000, 20000]);
        assert_eq!(c.member_ranks.len(), 1);
        assert_eq!(c.excluded_statuses, vec!["cancelled", "returned"]);
        assert!(toml::from_str::<MartsConfig>("vip_top = 10").is_err());
    }

    #[test]
    fn subscription_keys_are_checked() {
        let c: MartsConfig = toml::from_str(
            "subscription_cohort_group = \"year\"\n[[cancellation_categories]]\ncategory = \"late\"\nkeywords = [\"遅い\"]\n",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.cancellation_categories.len(), 1);
        assert_eq!(c.subscription_projection_months, 24);
        for bad in [
            "subscription_cohort_group = \"week\"",
            "subscription_projection_months = 0",
            "[[cancellation_categories]]\ncategory = \"other\"\nkeywords = [\"x\"]",
            "[[cancellation_categories]]\ncategory = \"a\"\nkeywords = []",
        ] {
            let c: MartsConfig = toml::from_str(bad).unwrap();
            let e = c.validate().unwrap_err();
            assert!(bad.contains(e.key), "{bad}: {e}");
        }
    }

    #[test]
    fn validation_names_the_key() {
        let c = MartsConfig {
            spend_bucket_edges: vec![10, 10],
            ..Default::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("spend_bucket_edges"), "{e}");
        let c = MartsConfig {
            target_f2_rate: 87.0,
            ..Default::default()
        };
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("target_f2_rate")
        );
    }

    #[test]
    fn nps_claimed_ltv_ratio_defaults_to_the_method_and_must_be_positive() {
        assert_eq!(MartsConfig::default().nps_claimed_ltv_ratio, 2.4);
        let c: MartsConfig = toml::from_str("nps_claimed_ltv_ratio = 3").unwrap();
        assert_eq!(c.nps_claimed_ltv_ratio, 3.0);
        c.validate().unwrap();
        for bad in [0.0, -2.4, f64::NAN, f64::INFINITY] {
            let c = MartsConfig {
                nps_claimed_ltv_ratio: bad,
                ..Default::default()
            };
            let e = c.validate().unwrap_err();
            assert_eq!(e.key, "nps_claimed_ltv_ratio", "{bad}: {e}");
        }
    }
}
