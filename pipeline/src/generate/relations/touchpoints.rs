//! Touchpoints: the contacts (approaches) and offers a first-time buyer gets in the 30 days
//! after their first counted order, and a few after each later order.
//!
//! A buyer is *meant* to be compliant with the 1-3-2 rule (≥ 3 approaches and ≥ 2 offers in
//! [first order, +30 days)) with probability 0.45 when they decided to come back and 0.30
//! when not: about 35 % are, and their F2 is about 0.45 against 0.30 for the others, which
//! keeps the mean F2 at the orders' r_1 = 0.35. Non-compliant buyers fall short on offers
//! (some of which come after day 30), on approaches, or on both. Each later order brings
//! an enclosure in the parcel and sometimes a coupon, so a buyer who reorders within the
//! window gets more touches in it: the bias the landmark estimate removes. The realised
//! figures (in [`crate::generate::TouchpointTruth`]) are counted from the written rows.
//!
//! Touches of one buyer never share a time within one batch, and later orders' campaigns
//! name the order (`3回目購入サンクス`), so no two touches are the same row: Japanese
//! exports leave `touch_id` out and are keyed by the whole row.

use std::fmt::Write as _;

use rand::Rng;

use super::customers::push_customer_id;
use super::{Buyer, DAY, Filed, Pending, RULE_DAYS, Relations, pick};
use crate::generate::orders::Order;
use crate::generate::table::{BadKind, Cells, Column, Layout, Line, Row};
use crate::generate::{Window, push_time};

/// P(meant to be compliant | the buyer decided to come back), and when they did not.
const COMPLIANT_IF_REPEAT: f64 = 0.45;
const COMPLIANT_IF_NOT: f64 = 0.30;

const CHANNEL_EN: [&str; 5] = ["email", "line", "dm", "call", "enclosure"];
const CHANNEL_JA: [&str; 5] = ["メール", "LINE", "DM", "電話", "同梱物"];
/// Approach channels' weights (email, LINE, DM, call, enclosure), and offers'.
const APPROACH_WEIGHTS: [u32; 5] = [35, 25, 12, 10, 18];
const OFFER_WEIGHTS: [u32; 5] = [45, 35, 20, 0, 0];
const APPROACH_CAMPAIGNS: [&str; 5] = [
    "サンクスメール",
    "LINEお友だちフォロー",
    "サンクスレター",
    "フォローコール",
    "初回同梱ガイド",
];
const OFFER_CAMPAIGNS: [&str; 5] = [
    "2回目購入クーポン",
    "LINE限定クーポン",
    "定期便おためしオファー",
    "",
    "",
];
const LATE_OFFER: &str = "再購入クーポン";

#[derive(Clone, Copy)]
pub(super) enum Campaign {
    Named(&'static str),
    /// `{k}{suffix}`: a campaign of the customer's k-th order.
    Order(u32, &'static str),
}

#[derive(Clone)]
pub(super) struct Touch {
    pub id: u64,
    pub customer: u64,
    pub at: i64,
    pub channel: u8,
    pub offer: bool,
    pub campaign: Campaign,
}

static LAYOUT: Layout = Layout {
    stem: "touchpoints",
    columns: &[
        Column {
            en: "touch_id",
            ja: None,
        },
        Column {
            en: "customer_id",
            ja: Some("顧客ID"),
        },
        Column {
            en: "touched_at",
            ja: Some("配信日時"),
        },
        Column {
            en: "channel",
            ja: Some("チャネル"),
        },
        Column {
            en: "kind",
            ja: Some("区分"),
        },
        Column {
            en: "campaign",
            ja: Some("施策名"),
        },
    ],
    bad: &[
        BadKind {
            kind: "unknown kind",
            column: 4,
            text: "その他",
        },
        BadKind {
            kind: "missing customer id",
            column: 1,
            text: "",
        },
        BadKind {
            kind: "unparseable date",
            column: 2,
            text: "2024-13-45 25:61:00",
        },
    ],
};

impl Row for Touch {
    const LAYOUT: &'static Layout = &LAYOUT;

    fn time(&self) -> i64 {
        self.at
    }

    fn fill(&self, japanese: bool, cells: &mut Cells) {
        cells.push_with(|s| {
            let _ = write!(s, "T{:010}", self.id);
        });
        cells.push_with(|s| push_customer_id(s, self.customer));
        cells.push_with(|s| push_time(s, self.at, japanese));
        let channels = if japanese { &CHANNEL_JA } else { &CHANNEL_EN };
        cells.push(channels[self.channel as usize]);
        cells.push(match (self.offer, japanese) {
            (false, false) => "approach",
            (true, false) => "offer",
            (false, true) => "アプローチ",
            (true, true) => "オファー",
        });
        cells.push_with(|s| match self.campaign {
            Campaign::Named(name) => s.push_str(name),
            Campaign::Order(k, suffix) => {
                let _ = write!(s, "{k}{suffix}");
            }
        });
    }
}

impl Filed for Touch {
    fn lines(p: &mut Pending) -> &mut Vec<Line<Self>> {
        &mut p.touches
    }

    const DUPLICATES_ACROSS_SHAPES: bool = false;
}

fn weighted(rng: &mut impl Rng, weights: &[u32; 5]) -> u8 {
    pick(rng, weights.iter().sum(), |i| weights[i]) as u8
}

impl Relations {
    /// Files a touch, with the next touch id, and counts it against the buyer's window.
    fn touch(&mut self, window: &Window, buyer: &mut Buyer, mut t: Touch) {
        t.id = self.next_touch;
        self.next_touch += 1;
        let (at, offer) = (t.at, t.offer);
        if self.file_dated(window, t) {
            Relations::count_touch(buyer, at, offer);
        }
    }

    /// The follow-up of a first counted order `o`.
    pub(super) fn first_order_touches(&mut self, window: &Window, buyer: &mut Buyer, o: &Order) {
        let rng = &mut self.rng;
        let p = if o.repeats {
            COMPLIANT_IF_REPEAT
        } else {
            COMPLIANT_IF_NOT
        };
        let (approaches, offers, late) = if rng.random_bool(p) {
            (rng.random_range(3..=4), rng.random_range(2..=3), 0)
        } else {
            match rng.random::<f64>() {
                // Contacted, but the offers were short or came after day 30.
                u if u < 0.4 => (
                    rng.random_range(3..=4),
                    rng.random_range(0..=1),
                    rng.random_range(1..=2),
                ),
                // Offers, but too few contacts.
                u if u < 0.75 => (
                    rng.random_range(0..=2),
                    rng.random_range(0..=3),
                    rng.random_range(0..=1),
                ),
                // Hardly followed up.
                _ => (rng.random_range(0..=1), 0, 0),
            }
        };
        // (seconds after the order, is an offer, is late)
        let mut plan: Vec<(i64, bool, bool)> = Vec::with_capacity(approaches + offers + late);
        plan.extend(
            (0..approaches).map(|_| (rng.random_range(3_600..RULE_DAYS * DAY), false, false)),
        );
        plan.extend((0..offers).map(|_| (rng.random_range(2 * DAY..RULE_DAYS * DAY), true, false)));
        plan.extend((0..late).map(|_| (rng.random_range(RULE_DAYS * DAY..60 * DAY), true, true)));
        plan.sort_unstable();
        for i in 1..plan.len() {
            if plan[i].0 <= plan[i - 1].0 {
                plan[i].0 = plan[i - 1].0 + 1;
            }
        }
        for (after, offer, late) in plan {
            let (channel, campaign) = if late {
                (weighted(&mut self.rng, &OFFER_WEIGHTS), LATE_OFFER)
            } else if offer {
                let c = weighted(&mut self.rng, &OFFER_WEIGHTS);
                (c, OFFER_CAMPAIGNS[c as usize])
            } else {
                let c = weighted(&mut self.rng, &APPROACH_WEIGHTS);
                (c, APPROACH_CAMPAIGNS[c as usize])
            };
            let t = Touch {
                id: 0,
                customer: o.customer,
                at: o.local_secs + after,
                channel,
                offer,
                campaign: Campaign::Named(campaign),
            };
            self.touch(window, buyer, t);
        }
    }

    /// After a repeat order `o`: an enclosure in the parcel, sometimes a coupon.
    pub(super) fn repeat_touches(&mut self, window: &Window, buyer: &mut Buyer, o: &Order) {
        struct FollowUp {
            probability: f64,
            channel: u8,
            offer: bool,
            days_after: (i64, i64),
            campaign_suffix: &'static str,
        }
        const AFTER_REPEAT: [FollowUp; 2] = [
            FollowUp {
                probability: 0.5,
                channel: 4,
                offer: false,
                days_after: (1, 3),
                campaign_suffix: "回目購入サンクス",
            },
            FollowUp {
                probability: 0.3,
                channel: 0,
                offer: true,
                days_after: (3, 20),
                campaign_suffix: "回目購入者クーポン",
            },
        ];
        for f in &AFTER_REPEAT {
            if self.rng.random_bool(f.probability) {
                let (from, to) = f.days_after;
                let at = o.local_secs + self.rng.random_range(from * DAY..to * DAY);
                let t = Touch {
                    id: 0,
                    customer: o.customer,
                    at,
                    channel: f.channel,
                    offer: f.offer,
                    campaign: Campaign::Order(o.k, f.campaign_suffix),
                };
                self.touch(window, buyer, t);
            }
        }
    }
}
