//! The ground truth `conveyor generate --json` reports: per dataset, the rows as ingest
//! should count them; and the method's numbers as realised in the written data, computed
//! from the generated rows the way the marts define them (not the generator's
//! parameters, except where a number is named a parameter).

use std::collections::BTreeMap;

use serde::Serialize;

/// One dataset's files and rows.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct DatasetTruth {
    pub files: Vec<String>,
    /// Rows in all files (what ingest reads).
    pub rows_written: u64,
    /// Distinct valid rows: what the warehouse table should hold.
    pub rows: u64,
    /// Broken rows (what ingest quarantines).
    pub bad_rows: u64,
    /// Rows repeated verbatim in a later file (what ingest skips as duplicates).
    pub duplicate_rows: u64,
    /// Rows re-sent in a later file with changed content (loaded, replacing the older).
    pub update_rows: u64,
    pub bad_by_kind: BTreeMap<String, u64>,
    pub bytes: u64,
}

/// The orders exported line by line: in `orders`' counts as one row each (a broken one
/// among its bad rows, of kind `lines ≠ subtotal`); every line a row `order_lines` reads,
/// and holds unless its order is broken.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct LineItemTruth {
    /// The preset whose shape the files have.
    pub preset: String,
    pub files: Vec<String>,
    /// Orders in the files, broken ones included.
    pub orders: u64,
    /// Lines in the files, broken orders' included.
    pub lines: u64,
    /// Orders whose lines do not come to their subtotal, and their lines.
    pub bad_orders: u64,
    pub bad_lines: u64,
}

/// The method's numbers as they are in the written data.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct MethodTruth {
    /// Customers in the master with a birthday.
    pub customers_with_birthday: u64,
    /// Customers in the master without a valid order row: members who never ordered, and
    /// buyers whose every order row was broken.
    pub customers_without_orders: u64,
    pub touchpoints: TouchpointTruth,
    pub nps: NpsTruth,
    pub subscriptions: SubscriptionTruth,
}

/// The 1-3-2 rule: approaches and offers in [first order, first order + 30 days), against
/// F2.
///
/// A first-time buyer is a customer with a counted order (valid, not cancelled or
/// returned); their first order is the first counted one. Compliant: ≥ 3 approaches and
/// ≥ 2 offers in the window. F2: a second counted order by `as_of`, the latest counted
/// order (the marts' default). The landmark version keeps the buyers whose window ended
/// by `as_of` and who had not reordered within it, and counts a second order after it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct TouchpointTruth {
    pub window_days: u32,
    /// The latest counted order, local time (`YYYY-MM-DD HH:MM:SS`).
    pub as_of: String,
    pub first_time_buyers: u64,
    pub compliant: u64,
    pub compliant_share: Option<f64>,
    pub compliant_repeaters: u64,
    pub non_compliant_repeaters: u64,
    pub f2_compliant: Option<f64>,
    pub f2_non_compliant: Option<f64>,
    pub landmark_compliant: u64,
    pub landmark_non_compliant: u64,
    pub landmark_compliant_repeaters: u64,
    pub landmark_non_compliant_repeaters: u64,
    pub landmark_f2_compliant: Option<f64>,
    pub landmark_f2_non_compliant: Option<f64>,
}

/// NPS: each respondent classified by their latest response at or before `as_of` (the
/// latest counted order, as the marts; promoter 9–10, passive 7–8, detractor 0–6), against
/// `ltv_365`: the amount of their counted orders in [first order, first order + 365 days),
/// of the respondents whose first counted order is at least 365 days before `as_of` only
/// (`customer_summary.ltv_365` is NULL for the others).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct NpsTruth {
    /// Responses written (all of them, as the table holds them).
    pub responses: u64,
    /// Customers with a response at or before `as_of`, by the class of the latest.
    pub respondents: u64,
    pub promoters: u64,
    pub passives: u64,
    pub detractors: u64,
    /// Of those, the ones whose `ltv_365` has matured: the means' denominators.
    pub matured_promoters: u64,
    pub matured_passives: u64,
    pub matured_detractors: u64,
    pub mean_ltv_365_promoters: Option<f64>,
    pub mean_ltv_365_passives: Option<f64>,
    pub mean_ltv_365_detractors: Option<f64>,
    pub promoter_detractor_ltv_ratio: Option<f64>,
}

/// Subscriptions: each one's monthly cancel probability θ is drawn from Beta(α, β) (the
/// shifted-beta-geometric model), and it is cancelled in its month T ~ Geometric(θ), i.e.
/// in [start + (T − 1) months, start + T months). Skips, pauses and resumes are not
/// cancellations. Counts are of the written events.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SubscriptionTruth {
    pub started: u64,
    pub cancelled: u64,
    /// Started and not cancelled within the window (censored).
    pub active: u64,
    pub skips: u64,
    pub pauses: u64,
    pub resumes: u64,
    /// Parameters: θ ~ Beta(churn_alpha, churn_beta).
    pub churn_alpha: f64,
    pub churn_beta: f64,
    /// Cancellations by reason as written ("" for none given).
    pub cancel_reasons: BTreeMap<String, u64>,
    /// The same by the method's categories: `doesnt_suit_or_no_effect`,
    /// `product_left_over`, `too_expensive`, `other`, `unknown` (no reason).
    pub cancel_reason_categories: BTreeMap<String, u64>,
}

/// `n / d`, `None` when `d` is 0.
pub(super) fn ratio(n: f64, d: f64) -> Option<f64> {
    (d != 0.0).then(|| n / d)
}
