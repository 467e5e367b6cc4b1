//! NPS responses: 15 % of first-time buyers answer 3–21 days after their first counted
//! order, and a fifth of them again 2–8 months later (the latest answer counts).
//!
//! The class (promoter 9–10, passive 7–8, detractor 0–6) is the buyer's latent type, drawn
//! given whether they decided to come back: promoters mostly did, detractors mostly did
//! not. Their `ltv_365` then differs by about 2.4× (the method's figure), which
//! [`crate::generate::NpsTruth`] reports as realised, with each class's mean.

use std::fmt::Write as _;

use rand::Rng;

use super::customers::push_customer_id;
use super::{Buyer, DAY, Filed, Pending, Relations, pick};
use crate::generate::orders::Order;
use crate::generate::table::{BadKind, Cells, Column, Layout, Line, Row};
use crate::generate::{Window, push_time};

const RESPONDING: f64 = 0.15;
const ANSWERING_AGAIN: f64 = 0.2;
/// A second answer keeps the class with this probability (else it is drawn again).
const SAME_CLASS: f64 = 0.85;
/// P(promoter, passive, detractor | came back after the first order), and when not.
const CLASS_IF_REPEAT: [f64; 3] = [0.74, 0.23, 0.03];
const CLASS_IF_NOT: [f64; 3] = [0.06, 0.45, 0.49];
/// Weights of the scores 0–6 among detractors.
const DETRACTOR_SCORES: [u32; 7] = [4, 3, 5, 8, 12, 28, 40];
/// Share of Japanese exports' scores written in full-width digits (`１０`).
const WIDE_SCORES: f64 = 0.3;
const COMMENTING: f64 = 0.4;
const COMMENTS: [&[&str]; 3] = [
    &[
        "とても満足しています。友人にも勧めました",
        "肌の調子が良くなりました",
        "届くのが早くて助かります",
        "毎日続けています, また買います",
    ],
    &["普通です", "もう少し安いと嬉しい", "効果はまだ分かりません"],
    &[
        "効果が感じられない",
        "電話の案内が多すぎる",
        "配送が遅かった",
        "解約の手続きが分かりにくい",
    ],
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    Promoter = 0,
    Passive = 1,
    Detractor = 2,
}

#[derive(Clone)]
pub(super) struct Response {
    pub customer: u64,
    pub at: i64,
    pub score: u8,
    pub comment: Option<&'static str>,
    /// Full-width digits in a Japanese export.
    pub wide: bool,
}

static LAYOUT: Layout = Layout {
    stem: "nps_responses",
    columns: &[
        Column {
            en: "customer_id",
            ja: Some("顧客ID"),
        },
        Column {
            en: "responded_at",
            ja: Some("回答日時"),
        },
        Column {
            en: "score",
            ja: Some("推奨度"),
        },
        Column {
            en: "comment",
            ja: Some("コメント"),
        },
    ],
    bad: &[
        BadKind {
            kind: "score out of range",
            column: 2,
            text: "11",
        },
        BadKind {
            kind: "missing customer id",
            column: 0,
            text: "",
        },
        BadKind {
            kind: "unparseable date",
            column: 1,
            text: "2024-13-45 25:61:00",
        },
    ],
};

impl Row for Response {
    const LAYOUT: &'static Layout = &LAYOUT;

    fn time(&self) -> i64 {
        self.at
    }

    fn fill(&self, japanese: bool, cells: &mut Cells) {
        cells.push_with(|s| push_customer_id(s, self.customer));
        cells.push_with(|s| push_time(s, self.at, japanese));
        cells.push_with(|s| {
            if japanese && self.wide {
                // Full-width digits: U+FF10 is ０.
                for d in self.score.to_string().chars() {
                    s.push(char::from_u32(0xFF10 + d as u32 - '0' as u32).expect("a digit"));
                }
            } else {
                let _ = write!(s, "{}", self.score);
            }
        });
        cells.push(self.comment.unwrap_or(""));
    }
}

impl Filed for Response {
    fn lines(p: &mut Pending) -> &mut Vec<Line<Self>> {
        &mut p.responses
    }
}

impl Class {
    fn of_score(score: u8) -> Class {
        match score {
            9.. => Class::Promoter,
            7 | 8 => Class::Passive,
            _ => Class::Detractor,
        }
    }
}

impl Relations {
    fn class(&mut self, repeats: bool) -> Class {
        let p = if repeats {
            CLASS_IF_REPEAT
        } else {
            CLASS_IF_NOT
        };
        match self.rng.random::<f64>() {
            u if u < p[0] => Class::Promoter,
            u if u < p[0] + p[1] => Class::Passive,
            _ => Class::Detractor,
        }
    }

    fn response(&mut self, customer: u64, at: i64, class: Class) -> Response {
        let rng = &mut self.rng;
        let score = match class {
            Class::Promoter => rng.random_range(9..=10),
            Class::Passive => rng.random_range(7..=8),
            Class::Detractor => {
                let total = DETRACTOR_SCORES.iter().sum();
                pick(rng, total, |i| DETRACTOR_SCORES[i]) as u8
            }
        };
        let comments = COMMENTS[class as usize];
        let comment = rng
            .random_bool(COMMENTING)
            .then(|| comments[rng.random_range(0..comments.len())]);
        Response {
            customer,
            at,
            score,
            comment,
            wide: rng.random_bool(WIDE_SCORES),
        }
    }

    fn answer(&mut self, window: &Window, buyer: &mut Buyer, r: Response) {
        let (at, class) = (r.at, Class::of_score(r.score));
        if self.file_dated(window, r) {
            self.method.nps.responses += 1;
            buyer.nps_answers.push((at, class));
        }
    }

    /// The NPS answers, if any, of a buyer after their first counted order `o`.
    pub(super) fn responses(&mut self, window: &Window, buyer: &mut Buyer, o: &Order) {
        if !self.rng.random_bool(RESPONDING) {
            return;
        }
        let class = self.class(o.repeats);
        let at = o.local_secs + self.rng.random_range(3 * DAY..21 * DAY);
        let first = self.response(o.customer, at, class);
        self.answer(window, buyer, first);
        if self.rng.random_bool(ANSWERING_AGAIN) {
            let again = if self.rng.random_bool(SAME_CLASS) {
                class
            } else {
                self.class(o.repeats)
            };
            let later = at + self.rng.random_range(60 * DAY..240 * DAY);
            let second = self.response(o.customer, later, again);
            self.answer(window, buyer, second);
        }
    }
}
