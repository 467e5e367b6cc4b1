//! The relationship datasets around the order stream: the customer master
//! ([`customers`]), the touchpoints of the 1-3-2 rule ([`touchpoints`]), NPS responses
//! ([`nps`]) and subscription events ([`subscriptions`]).
//!
//! They are drawn from a random stream of their own (the seed's stream 1), fed each
//! month's orders in time order. What the orders stream decided is used, never redrawn: a
//! buyer's latent "type" (compliant with the 1-3-2 rule or not; promoter, passive or
//! detractor) is drawn given whether they decided to come back after their first counted
//! order. That is the same joint distribution as a type that drives the return, and it
//! leaves every order as it was.
//!
//! Rows are filed under the month they happen in and written when that month closes, so
//! what is held is the rows of months not yet written (touches up to two months ahead, a
//! second NPS response up to eight, the rest of each running subscription) and the
//! customers still waiting for an order. A customer's truth (first-time buyer, compliant,
//! F2, NPS answers and `ltv_365`) is settled after their last order, from the rows written;
//! what depends on `as_of` (the landmark, the NPS class and whether `ltv_365` has matured)
//! once the latest counted order is known.

mod customers;
mod nps;
mod subscriptions;
mod touchpoints;

use std::collections::{BTreeMap, HashMap};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::orders::Order;
use super::table::{Line, Row, Writer};
use super::truth::{DatasetTruth, MethodTruth, NpsTruth, TouchpointTruth, ratio};
use super::{FileFormat, GenerateOptions, RelationPrefixes, Window, push_time};
use crate::error::Result;

const DAY: i64 = 86_400;
/// The 1-3-2 rule's window after a first order.
const RULE_DAYS: i64 = 30;
/// `ltv_365`'s window after a first order.
const LTV_DAYS: i64 = 365;

/// An index drawn with probability `weight(i) / total` (`total` is the sum of the weights).
fn pick(rng: &mut impl Rng, total: u32, weight: impl Fn(usize) -> u32) -> usize {
    let mut x = rng.random_range(0..total);
    let mut i = 0;
    while x >= weight(i) {
        x -= weight(i);
        i += 1;
    }
    i
}

/// A month's rows, per dataset.
#[derive(Default)]
struct Pending {
    customers: Vec<Line<customers::Customer>>,
    touches: Vec<Line<touchpoints::Touch>>,
    responses: Vec<Line<nps::Response>>,
    events: Vec<Line<subscriptions::Event>>,
}

/// A row type, and where its month's lines are kept.
trait Filed: Row {
    fn lines(p: &mut Pending) -> &mut Vec<Line<Self>>;
    /// A verbatim copy may land in a file of the other shape. Not for touchpoints: their
    /// key is `touch_id` in English files and the whole row in Japanese ones, which leave
    /// it out, so a copy across shapes would be another touch.
    const DUPLICATES_ACROSS_SHAPES: bool = true;
    /// The row re-sent with changed content, if the dataset has updates.
    fn changed(&self, _rng: &mut ChaCha8Rng) -> Option<Self> {
        None
    }
}

/// What is known of a customer while they still have an order to come.
#[derive(Default)]
struct Buyer {
    /// They have a valid order row.
    has_order: bool,
    /// Their first counted order (local seconds).
    first: Option<i64>,
    second: Option<i64>,
    ltv_365: i64,
    /// Written touches in [first, first + 30 days).
    approaches: u32,
    offers: u32,
    /// Their written NPS responses (time, class), in time order.
    nps_answers: Vec<(i64, nps::Class)>,
}

/// A settled first-time buyer, for the 1-3-2 figures.
#[derive(Clone, Copy)]
struct Settled {
    first: i64,
    compliant: bool,
    repeated: bool,
    /// The second order came within the rule's window.
    early: bool,
}

/// A settled NPS respondent, for the NPS figures.
struct Respondent {
    /// Their first counted order (local seconds).
    first: i64,
    ltv_365: i64,
    /// Written answers (time, class), in time order.
    answers: Vec<(i64, nps::Class)>,
}

/// Counts of (compliant, non-compliant) buyers and their repeaters.
#[derive(Default)]
struct Tally {
    buyers: [u64; 2],
    repeaters: [u64; 2],
}

impl Tally {
    fn add(&mut self, compliant: bool, repeated: bool) {
        let i = usize::from(!compliant);
        self.buyers[i] += 1;
        self.repeaters[i] += u64::from(repeated);
    }

    fn rate(&self, i: usize) -> Option<f64> {
        ratio(self.repeaters[i] as f64, self.buyers[i] as f64)
    }
}

pub(super) struct Relations {
    rng: ChaCha8Rng,
    bad_share: f64,
    duplicate_share: f64,
    update_share: f64,
    format: FileFormat,
    prefixes: RelationPrefixes,
    months: u32,
    pending: BTreeMap<u32, Pending>,
    buyers: HashMap<u64, Buyer>,
    /// Customer → end of their running subscription (`i64::MAX` past the window).
    subscribed: HashMap<u64, i64>,
    next_touch: u64,
    next_subscription: u64,
    next_signup: u64,
    writers: [Writer; 4],
    /// The latest counted order so far: a lower bound of the marts' `as_of`.
    max_counted: i64,
    raw: Tally,
    landmark: Tally,
    /// Buyers whose landmark eligibility waits for `as_of`.
    deferred: Vec<Settled>,
    /// Settled respondents, classified once `as_of` is known.
    nps_respondents: Vec<Respondent>,
    method: MethodTruth,
}

impl Relations {
    pub fn new(opts: &GenerateOptions, window: &Window) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        rng.set_stream(1);
        let mut method = MethodTruth::default();
        method.subscriptions.churn_alpha = subscriptions::CHURN_ALPHA;
        method.subscriptions.churn_beta = subscriptions::CHURN_BETA;
        Relations {
            rng,
            bad_share: opts.bad_share,
            duplicate_share: opts.duplicate_share,
            update_share: opts.update_share,
            format: opts.format,
            prefixes: opts.relation_prefixes.clone(),
            months: window.months(),
            pending: BTreeMap::new(),
            buyers: HashMap::new(),
            subscribed: HashMap::new(),
            next_touch: 1,
            next_subscription: 1,
            next_signup: 1,
            writers: Default::default(),
            max_counted: i64::MIN,
            raw: Tally::default(),
            landmark: Tally::default(),
            deferred: Vec::new(),
            nps_respondents: Vec::new(),
            method,
        }
    }

    /// Files a valid row under month `m` (nothing when `None`: outside the window), with
    /// its mess: a broken copy beside it, a verbatim copy in the next month's file, or a
    /// changed copy in a later one. Returns whether it was filed.
    fn file<T: Filed>(&mut self, window: &Window, m: Option<u32>, row: T) -> bool {
        let Some(m) = m else {
            return false;
        };
        if self.rng.random::<f64>() < self.bad_share {
            T::lines(self.pending.entry(m).or_default()).push(Line::Bad(row.clone()));
        }
        let u: f64 = self.rng.random();
        let next_same_shape = T::DUPLICATES_ACROSS_SHAPES
            || self.format == FileFormat::Jsonl
            || window.japanese(m) == window.japanese(m + 1);
        if u < self.duplicate_share && m + 1 < self.months && next_same_shape {
            T::lines(self.pending.entry(m + 1).or_default()).push(Line::Duplicate(row.clone()));
        } else if u < self.duplicate_share + self.update_share
            && let Some(changed) = row.changed(&mut self.rng)
        {
            let later = m + self.rng.random_range(1..=3);
            if later < self.months {
                T::lines(self.pending.entry(later).or_default()).push(Line::Update(changed));
            }
        }
        T::lines(self.pending.entry(m).or_default()).push(Line::Good(row));
        true
    }

    /// Files a row under the month its time falls in.
    fn file_dated<T: Filed>(&mut self, window: &Window, row: T) -> bool {
        let m = window.month_of(row.time());
        self.file(window, m, row)
    }

    /// Month `m`'s orders (in time order) and what follows from them.
    pub fn month(&mut self, window: &Window, m: u32, placed: &[Order], new_customers: u64) {
        for o in placed {
            if o.k == 1 {
                self.buyers.insert(o.customer, Buyer::default());
                self.master_row(window, m, o);
            }
            let Some(mut buyer) = self.buyers.remove(&o.customer) else {
                debug_assert!(false, "customer {} ordered without a record", o.customer);
                continue;
            };
            buyer.has_order |= o.valid;
            if o.counted {
                self.max_counted = self.max_counted.max(o.local_secs);
                match buyer.first {
                    None => {
                        buyer.first = Some(o.local_secs);
                        buyer.ltv_365 += o.amount;
                        self.first_order_touches(window, &mut buyer, o);
                        self.responses(window, &mut buyer, o);
                    }
                    Some(first) => {
                        buyer.second.get_or_insert(o.local_secs);
                        if o.local_secs < first + LTV_DAYS * DAY {
                            buyer.ltv_365 += o.amount;
                        }
                        self.repeat_touches(window, &mut buyer, o);
                    }
                }
                if o.subscription {
                    self.subscribe(window, o);
                }
            }
            if o.next_in_window {
                self.buyers.insert(o.customer, buyer);
            } else {
                self.settle(buyer);
            }
        }
        self.signups(window, m, new_customers);
    }

    /// Notes a written touch against the buyer's 1-3-2 window.
    fn count_touch(buyer: &mut Buyer, at: i64, offer: bool) {
        if let Some(first) = buyer.first
            && (first..first + RULE_DAYS * DAY).contains(&at)
        {
            if offer {
                buyer.offers += 1;
            } else {
                buyer.approaches += 1;
            }
        }
    }

    /// A customer's last order is placed: their truth is final.
    fn settle(&mut self, buyer: Buyer) {
        self.method.customers_without_orders += u64::from(!buyer.has_order);
        let Some(first) = buyer.first else {
            return;
        };
        let s = Settled {
            first,
            compliant: buyer.approaches >= 3 && buyer.offers >= 2,
            repeated: buyer.second.is_some(),
            early: buyer
                .second
                .is_some_and(|second| second < first + RULE_DAYS * DAY),
        };
        self.raw.add(s.compliant, s.repeated);
        if first + RULE_DAYS * DAY <= self.max_counted {
            self.landmark_add(s);
        } else {
            self.deferred.push(s);
        }
        if !buyer.nps_answers.is_empty() {
            self.nps_respondents.push(Respondent {
                first,
                ltv_365: buyer.ltv_365,
                answers: buyer.nps_answers,
            });
        }
    }

    /// A buyer whose window ended by `as_of`, in the landmark figures unless they had
    /// reordered within it.
    fn landmark_add(&mut self, s: Settled) {
        if !s.early {
            self.landmark.add(s.compliant, s.repeated);
        }
    }

    /// Settles the deferred buyers whose window has ended by `as_of` (at least
    /// `max_counted`); keeps the others.
    fn settle_deferred(&mut self) {
        let as_of = self.max_counted;
        let mut keep = Vec::new();
        for s in std::mem::take(&mut self.deferred) {
            if s.first + RULE_DAYS * DAY <= as_of {
                self.landmark_add(s);
            } else {
                keep.push(s);
            }
        }
        self.deferred = keep;
    }

    /// Writes month `m`'s rows: one file per dataset that has any.
    pub fn close_month(&mut self, window: &Window, m: u32) -> Result<Vec<(String, bytes::Bytes)>> {
        self.settle_deferred();
        let end = window.start_secs(m + 1);
        self.subscribed.retain(|_, until| *until > end);
        let p = self.pending.remove(&m).unwrap_or_default();
        let label = crate::month::YearMonth::of(window.first_day(m)).to_string();
        let japanese = window.japanese(m);
        let [c, t, n, e] = &mut self.writers;
        let pr = &self.prefixes;
        let f = self.format;
        Ok([
            c.render(p.customers, &pr.customers, &label, japanese, f)?,
            t.render(p.touches, &pr.touchpoints, &label, japanese, f)?,
            n.render(p.responses, &pr.nps_responses, &label, japanese, f)?,
            e.render(p.events, &pr.subscription_events, &label, japanese, f)?,
        ]
        .into_iter()
        .flatten()
        .collect())
    }

    /// The four datasets' counts and the method's truth.
    pub fn finish(mut self) -> (BTreeMap<String, DatasetTruth>, MethodTruth) {
        for buyer in std::mem::take(&mut self.buyers).into_values() {
            self.settle(buyer);
        }
        self.settle_deferred();
        let mut method = std::mem::take(&mut self.method);
        let mut as_of = String::new();
        if self.max_counted > i64::MIN {
            push_time(&mut as_of, self.max_counted, false);
        }
        method.touchpoints = TouchpointTruth {
            first_time_buyers: self.raw.buyers[0] + self.raw.buyers[1],
            compliant: self.raw.buyers[0],
            compliant_share: ratio(
                self.raw.buyers[0] as f64,
                (self.raw.buyers[0] + self.raw.buyers[1]) as f64,
            ),
            compliant_repeaters: self.raw.repeaters[0],
            non_compliant_repeaters: self.raw.repeaters[1],
            f2_compliant: self.raw.rate(0),
            f2_non_compliant: self.raw.rate(1),
            landmark_compliant: self.landmark.buyers[0],
            landmark_non_compliant: self.landmark.buyers[1],
            landmark_compliant_repeaters: self.landmark.repeaters[0],
            landmark_non_compliant_repeaters: self.landmark.repeaters[1],
            landmark_f2_compliant: self.landmark.rate(0),
            landmark_f2_non_compliant: self.landmark.rate(1),
            window_days: RULE_DAYS as u32,
            as_of,
        };
        // As the marts: the latest answer at or before as_of classifies; ltv_365 only of
        // the matured (first order + 365 days ≤ as_of).
        let (mut classes, mut matured, mut ltv) = ([0u64; 3], [0u64; 3], [0i64; 3]);
        for r in &self.nps_respondents {
            let answered = r
                .answers
                .iter()
                .rev()
                .find(|(at, _)| *at <= self.max_counted);
            let Some(&(_, class)) = answered else {
                continue;
            };
            let i = class as usize;
            classes[i] += 1;
            if r.first + LTV_DAYS * DAY <= self.max_counted {
                matured[i] += 1;
                ltv[i] += r.ltv_365;
            }
        }
        let mean = |i: usize| ratio(ltv[i] as f64, matured[i] as f64);
        method.nps = NpsTruth {
            respondents: classes.iter().sum(),
            promoters: classes[0],
            passives: classes[1],
            detractors: classes[2],
            matured_promoters: matured[0],
            matured_passives: matured[1],
            matured_detractors: matured[2],
            mean_ltv_365_promoters: mean(0),
            mean_ltv_365_passives: mean(1),
            mean_ltv_365_detractors: mean(2),
            promoter_detractor_ltv_ratio: mean(0).zip(mean(2)).and_then(|(p, d)| ratio(p, d)),
            ..method.nps
        };
        let s = &mut method.subscriptions;
        s.active = s.started - s.cancelled;
        let names = [
            "customers",
            "touchpoints",
            "nps_responses",
            "subscription_events",
        ];
        let tables = names
            .into_iter()
            .zip(self.writers)
            .map(|(name, w)| (name.to_string(), w.truth))
            .collect();
        (tables, method)
    }
}
