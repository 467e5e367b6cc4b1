//! The customer master: a row for every customer who ordered, written in the month of
//! their first order, and for members who signed up and never ordered, in the month they
//! signed up (each month's file is an incremental export of the master). Most members
//! register at checkout, some months before; most give a birthday; prefectures follow the
//! population roughly. A later export may re-send a row with a changed prefecture (a
//! move) or e-mail opt-in: an update.

use std::fmt::Write as _;

use chrono::{Datelike, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Poisson};

use super::{DAY, Filed, Pending, Relations, pick};
use crate::generate::Window;
use crate::generate::orders::Order;
use crate::generate::push_time;
use crate::generate::table::{BadKind, Cells, Column, Layout, Line, Row};

/// Prefectures with their population in 10,000s (2020 census, rounded).
const PREFECTURES: [(&str, u32); 47] = [
    ("北海道", 522),
    ("青森県", 124),
    ("岩手県", 121),
    ("宮城県", 230),
    ("秋田県", 96),
    ("山形県", 107),
    ("福島県", 183),
    ("茨城県", 287),
    ("栃木県", 193),
    ("群馬県", 194),
    ("埼玉県", 734),
    ("千葉県", 628),
    ("東京都", 1405),
    ("神奈川県", 924),
    ("新潟県", 220),
    ("富山県", 103),
    ("石川県", 113),
    ("福井県", 77),
    ("山梨県", 81),
    ("長野県", 205),
    ("岐阜県", 198),
    ("静岡県", 363),
    ("愛知県", 754),
    ("三重県", 177),
    ("滋賀県", 141),
    ("京都府", 258),
    ("大阪府", 884),
    ("兵庫県", 547),
    ("奈良県", 132),
    ("和歌山県", 92),
    ("鳥取県", 55),
    ("島根県", 67),
    ("岡山県", 189),
    ("広島県", 280),
    ("山口県", 134),
    ("徳島県", 72),
    ("香川県", 95),
    ("愛媛県", 133),
    ("高知県", 69),
    ("福岡県", 514),
    ("佐賀県", 81),
    ("長崎県", 131),
    ("熊本県", 174),
    ("大分県", 112),
    ("宮崎県", 107),
    ("鹿児島県", 159),
    ("沖縄県", 147),
];

/// Share of customers who give a birthday, a prefecture, and opt in to e-mail.
const WITH_BIRTHDAY: f64 = 0.88;
const WITH_PREFECTURE: f64 = 0.97;
const OPT_IN: f64 = 0.68;
/// Share who registered at checkout (the rest up to 400 days before).
const AT_CHECKOUT: f64 = 0.7;
/// Members who never order, per new buyer.
const SIGNUPS_PER_BUYER: f64 = 0.06;
/// Never-ordering members' numbers start here (buyers count from 1).
const SIGNUP_IDS: u64 = 900_000_000;

#[derive(Clone)]
pub(super) struct Customer {
    pub id: u64,
    pub birthday: Option<NaiveDate>,
    /// How a Japanese export writes the birthday: 0 `昭和60年4月1日`, 1 `S60.4.1`,
    /// 2 `1985/4/1`.
    pub style: u8,
    pub signed_up: i64,
    pub prefecture: Option<u8>,
    pub opt_in: bool,
}

static LAYOUT: Layout = Layout {
    stem: "customers",
    columns: &[
        Column {
            en: "customer_id",
            ja: Some("顧客ID"),
        },
        Column {
            en: "birthday",
            ja: Some("生年月日"),
        },
        Column {
            en: "signed_up_at",
            ja: Some("会員登録日"),
        },
        Column {
            en: "prefecture",
            ja: Some("都道府県"),
        },
        Column {
            en: "email_opt_in",
            ja: Some("メルマガ許可"),
        },
    ],
    bad: &[
        BadKind {
            kind: "missing customer id",
            column: 0,
            text: "",
        },
        BadKind {
            kind: "unparseable date",
            column: 2,
            text: "2024-13-45 25:61:00",
        },
        BadKind {
            kind: "not a yes/no value",
            column: 4,
            text: "たぶん",
        },
    ],
};

/// `C00001234`: the customer id as every dataset writes it.
pub(super) fn push_customer_id(out: &mut String, id: u64) {
    let _ = write!(out, "C{id:08}");
}

/// A Japanese era date: `昭和60年4月1日` (`元年` for year 1), or `S60.4.1` with `letter`.
fn push_era(out: &mut String, d: NaiveDate, letter: bool) {
    // (name, letter, first day, year of 元年)
    const ERAS: [(&str, char, (i32, u32, u32)); 4] = [
        ("令和", 'R', (2019, 5, 1)),
        ("平成", 'H', (1989, 1, 8)),
        ("昭和", 'S', (1926, 12, 25)),
        ("大正", 'T', (1912, 7, 30)),
    ];
    let found = ERAS.iter().find(|(_, _, (y, m, day))| {
        d >= NaiveDate::from_ymd_opt(*y, *m, *day).expect("valid era start")
    });
    let Some((name, l, (y0, _, _))) = found else {
        // Before 大正: not a birthday this generator draws; written as a Western date.
        let _ = write!(out, "{}/{}/{}", d.year(), d.month(), d.day());
        return;
    };
    let year = d.year() - y0 + 1;
    if letter {
        let _ = write!(out, "{l}{year}.{}.{}", d.month(), d.day());
    } else if year == 1 {
        let _ = write!(out, "{name}元年{}月{}日", d.month(), d.day());
    } else {
        let _ = write!(out, "{name}{year}年{}月{}日", d.month(), d.day());
    }
}

impl Row for Customer {
    const LAYOUT: &'static Layout = &LAYOUT;

    fn time(&self) -> i64 {
        self.signed_up
    }

    fn fill(&self, japanese: bool, cells: &mut Cells) {
        cells.push_with(|s| push_customer_id(s, self.id));
        cells.push_with(|s| match (self.birthday, japanese, self.style) {
            (None, _, _) => {}
            (Some(d), false, _) => {
                let _ = write!(s, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
            }
            (Some(d), true, 0) => push_era(s, d, false),
            (Some(d), true, 1) => push_era(s, d, true),
            (Some(d), true, _) => {
                let _ = write!(s, "{}/{}/{}", d.year(), d.month(), d.day());
            }
        });
        cells.push_with(|s| push_time(s, self.signed_up, japanese));
        cells.push(self.prefecture.map_or("", |p| PREFECTURES[p as usize].0));
        cells.push(match (self.opt_in, japanese) {
            (true, false) => "true",
            (false, false) => "false",
            (true, true) => "1",
            (false, true) => "0",
        });
    }
}

impl Filed for Customer {
    fn lines(p: &mut Pending) -> &mut Vec<Line<Self>> {
        &mut p.customers
    }

    /// Moved to another prefecture, or changed their mind about e-mail.
    fn changed(&self, rng: &mut ChaCha8Rng) -> Option<Self> {
        let mut c = self.clone();
        if rng.random::<bool>() {
            let now = self.prefecture;
            while c.prefecture == now {
                c.prefecture = Some(prefecture(rng));
            }
        } else {
            c.opt_in = !c.opt_in;
        }
        Some(c)
    }
}

fn prefecture(rng: &mut ChaCha8Rng) -> u8 {
    const TOTAL: u32 = {
        let (mut t, mut i) = (0, 0);
        while i < PREFECTURES.len() {
            t += PREFECTURES[i].1;
            i += 1;
        }
        t
    };
    pick(rng, TOTAL, |i| PREFECTURES[i].1) as u8
}

impl Relations {
    /// A member who signed up at `signed_up`: birthday, prefecture, opt-in.
    fn member(&mut self, id: u64, signed_up: i64) -> Customer {
        let rng = &mut self.rng;
        let birthday = rng.random_bool(WITH_BIRTHDAY).then(|| {
            // Ages at sign-up: mostly 30–65, as for supplements and cosmetics by mail.
            let age = Normal::<f64>::new(47.0, 13.0)
                .expect("valid normal")
                .sample(rng)
                .clamp(18.0, 85.0);
            let signed = chrono::DateTime::from_timestamp(signed_up, 0)
                .expect("in range")
                .date_naive();
            signed - chrono::Duration::days((age * 365.25) as i64 + rng.random_range(0..365))
        });
        let style = match rng.random::<f64>() {
            u if u < 0.65 => 0,
            u if u < 0.85 => 1,
            _ => 2,
        };
        let prefecture = rng.random_bool(WITH_PREFECTURE).then(|| prefecture(rng));
        Customer {
            id,
            birthday,
            style,
            signed_up,
            prefecture,
            opt_in: rng.random_bool(OPT_IN),
        }
    }

    /// The master row of a customer placing their first order `o`, in month `m`'s export.
    pub(super) fn master_row(&mut self, window: &Window, m: u32, o: &Order) {
        let signed_up = if self.rng.random_bool(AT_CHECKOUT) {
            o.local_secs - self.rng.random_range(60..1_800)
        } else {
            o.local_secs - self.rng.random_range(DAY..400 * DAY)
        };
        let c = self.member(o.customer, signed_up);
        let has_birthday = c.birthday.is_some();
        if self.file(window, Some(m), c) {
            self.method.customers_with_birthday += u64::from(has_birthday);
        }
    }

    /// Members who signed up in month `m` and never order.
    pub(super) fn signups(&mut self, window: &Window, m: u32, new_buyers: u64) {
        if new_buyers == 0 {
            return;
        }
        let n = Poisson::new(new_buyers as f64 * SIGNUPS_PER_BUYER)
            .expect("positive rate")
            .sample(&mut self.rng) as u64;
        let (from, to) = (window.start_secs(m), window.start_secs(m + 1));
        for _ in 0..n {
            let id = SIGNUP_IDS + self.next_signup;
            self.next_signup += 1;
            let signed_up = self.rng.random_range(from..to);
            let c = self.member(id, signed_up);
            let has_birthday = c.birthday.is_some();
            if self.file(window, Some(m), c) {
                self.method.customers_with_birthday += u64::from(has_birthday);
                self.method.customers_without_orders += 1;
            }
        }
    }
}
