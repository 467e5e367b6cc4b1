//! Subscription events (定期): 70 % of counted subscription orders (`is_subscription`) by a
//! customer without a running subscription start one at the order's time.
//!
//! Churn follows the shifted-beta-geometric model: each subscription draws its monthly
//! cancel probability θ from Beta(α, β) and is cancelled in its month T with probability
//! θ(1 − θ)^(T−1), at a random time in [start + (T − 1) months, start + T months). Because θ
//! varies, the survivors are ever more the loyal ones and the survival curve flattens.
//! Months before the cancellation may bring a skip, or a pause with its resume: neither is
//! a cancellation. A cancellation carries a reason in Japanese, most often the method's
//! three (doesn't suit / no effect, product left over, too expensive), some none.

use std::fmt::Write as _;

use chrono::Months;
use rand::Rng;
use rand_distr::{Beta, Distribution};

use super::customers::push_customer_id;
use super::{DAY, Filed, Pending, Relations, pick};
use crate::generate::orders::Order;
use crate::generate::table::{BadKind, Cells, Column, Layout, Line, Row};
use crate::generate::{Window, push_time};

pub(super) const CHURN_ALPHA: f64 = 0.8;
pub(super) const CHURN_BETA: f64 = 3.2;
const STARTING: f64 = 0.7;
/// Per month survived: a skip, or a pause (resumed 30–80 days later).
const SKIPPING: f64 = 0.06;
const PAUSING: f64 = 0.015;

const START: u8 = 0;
const SKIP: u8 = 1;
const PAUSE: u8 = 2;
const RESUME: u8 = 3;
const CANCEL: u8 = 4;
const EVENT_EN: [&str; 5] = ["start", "skip", "pause", "resume", "cancel"];
const EVENT_JA: [&str; 5] = ["開始", "スキップ", "休止", "再開", "解約"];

/// Cancellation reasons: (text, weight, category). "" is no reason given.
const REASONS: [(&str, u32, &str); 14] = [
    ("体に合わない", 10, "doesnt_suit_or_no_effect"),
    ("肌に合わなかった", 5, "doesnt_suit_or_no_effect"),
    ("効果が実感できない", 12, "doesnt_suit_or_no_effect"),
    ("効果がよく分からない", 4, "doesnt_suit_or_no_effect"),
    ("商品が余っている", 15, "product_left_over"),
    ("まだ商品が残っている", 6, "product_left_over"),
    ("価格が高い", 14, "too_expensive"),
    ("値段が高いので", 6, "too_expensive"),
    ("引っ越し", 3, "other"),
    ("他社に乗り換え", 4, "other"),
    ("家族の反対", 2, "other"),
    ("配送の都合", 3, "other"),
    ("その他", 2, "other"),
    ("", 14, "unknown"),
];

#[derive(Clone)]
pub(super) struct Event {
    pub subscription: u64,
    pub customer: u64,
    pub at: i64,
    pub event: u8,
    /// Index into [`REASONS`] (cancellations only).
    pub reason: Option<u8>,
}

static LAYOUT: Layout = Layout {
    stem: "subscription_events",
    columns: &[
        Column {
            en: "subscription_id",
            ja: Some("定期ID"),
        },
        Column {
            en: "customer_id",
            ja: Some("顧客ID"),
        },
        Column {
            en: "event",
            ja: Some("イベント"),
        },
        Column {
            en: "at",
            ja: Some("日時"),
        },
        Column {
            en: "reason",
            ja: Some("解約理由"),
        },
    ],
    bad: &[
        BadKind {
            kind: "unknown event",
            column: 2,
            text: "変更",
        },
        BadKind {
            kind: "missing subscription id",
            column: 0,
            text: "",
        },
        BadKind {
            kind: "unparseable date",
            column: 3,
            text: "2024-13-45 25:61:00",
        },
    ],
};

impl Row for Event {
    const LAYOUT: &'static Layout = &LAYOUT;

    fn time(&self) -> i64 {
        self.at
    }

    fn fill(&self, japanese: bool, cells: &mut Cells) {
        cells.push_with(|s| {
            let _ = write!(s, "S{:08}", self.subscription);
        });
        cells.push_with(|s| push_customer_id(s, self.customer));
        let words = if japanese { &EVENT_JA } else { &EVENT_EN };
        cells.push(words[self.event as usize]);
        cells.push_with(|s| push_time(s, self.at, japanese));
        cells.push(self.reason.map_or("", |r| REASONS[r as usize].0));
    }
}

impl Filed for Event {
    fn lines(p: &mut Pending) -> &mut Vec<Line<Self>> {
        &mut p.events
    }
}

/// `local_secs` plus `n` calendar months (the day clamped to the month's end).
fn add_months(local_secs: i64, n: u32) -> i64 {
    let dt = chrono::DateTime::from_timestamp(local_secs, 0)
        .expect("in range")
        .naive_utc();
    dt.checked_add_months(Months::new(n))
        .map_or(i64::MAX, |d| d.and_utc().timestamp())
}

impl Relations {
    fn event(&mut self, window: &Window, e: Event) {
        let (event, reason) = (e.event, e.reason);
        if !self.file_dated(window, e) {
            return;
        }
        let s = &mut self.method.subscriptions;
        match event {
            START => s.started += 1,
            SKIP => s.skips += 1,
            PAUSE => s.pauses += 1,
            RESUME => s.resumes += 1,
            _ => {
                s.cancelled += 1;
                let (text, _, category) = REASONS[reason.unwrap_or(0) as usize];
                *s.cancel_reasons.entry(text.to_string()).or_default() += 1;
                *s.cancel_reason_categories
                    .entry(category.to_string())
                    .or_default() += 1;
            }
        }
    }

    fn reason(&mut self) -> u8 {
        const TOTAL: u32 = {
            let (mut t, mut i) = (0, 0);
            while i < REASONS.len() {
                t += REASONS[i].1;
                i += 1;
            }
            t
        };
        pick(&mut self.rng, TOTAL, |i| REASONS[i].1) as u8
    }

    /// A counted subscription order `o`: maybe a subscription starts, and its whole life
    /// (up to the end of the window) is filed.
    pub(super) fn subscribe(&mut self, window: &Window, o: &Order) {
        if self
            .subscribed
            .get(&o.customer)
            .is_some_and(|until| *until > o.local_secs)
            || !self.rng.random_bool(STARTING)
        {
            return;
        }
        let id = self.next_subscription;
        self.next_subscription += 1;
        let end_of_window = window.start_secs(window.months());
        let theta = Beta::new(CHURN_ALPHA, CHURN_BETA)
            .expect("valid beta")
            .sample(&mut self.rng);
        let start = o.local_secs;
        let ev = |at: i64, event: u8, reason: Option<u8>| Event {
            subscription: id,
            customer: o.customer,
            at,
            event,
            reason,
        };
        let started = ev(start, START, None);
        self.event(window, started);
        let mut until = i64::MAX;
        // A resume not yet filed: it is dropped if the cancellation comes first.
        let mut resume: Option<i64> = None;
        for month in 1.. {
            let (from, to) = (add_months(start, month - 1), add_months(start, month));
            if from >= end_of_window {
                break;
            }
            if let Some(r) = resume.filter(|r| *r < from) {
                self.event(window, ev(r, RESUME, None));
                resume = None;
            }
            if self.rng.random_bool(theta) {
                let cancelled = from + self.rng.random_range(0..(to - from).max(1));
                if let Some(r) = resume.take().filter(|r| *r < cancelled) {
                    self.event(window, ev(r, RESUME, None));
                }
                let reason = self.reason();
                self.event(window, ev(cancelled, CANCEL, Some(reason)));
                until = cancelled;
                break;
            }
            if resume.is_some() {
                continue;
            }
            match self.rng.random::<f64>() {
                u if u < SKIPPING => {
                    let skipped = from + self.rng.random_range(3 * DAY..20 * DAY);
                    self.event(window, ev(skipped, SKIP, None));
                }
                u if u < SKIPPING + PAUSING => {
                    let paused = from + self.rng.random_range(DAY..20 * DAY);
                    self.event(window, ev(paused, PAUSE, None));
                    resume = Some(paused + self.rng.random_range(30 * DAY..80 * DAY));
                }
                _ => {}
            }
        }
        if let Some(r) = resume {
            self.event(window, ev(r, RESUME, None));
        }
        self.subscribed.insert(o.customer, until);
    }
}
