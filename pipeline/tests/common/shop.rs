//! A small shop's exports of all five datasets, made by the tests themselves (seeded, so
//! every run writes the same bytes): UTF-8 CSV with English headers and every value in its
//! canonical spelling, so that DuckDB can read the same files and apply the spec's rules in
//! SQL (tests/duckdb_check.py).
//!
//! What is in it, and why:
//! - `orders/`: two monthly objects (two partitions) for customers C001–C055.
//! - `customers/`: a master of C001–C050 with two broken rows (an impossible birthday, an
//!   opt-in that is not yes or no), then a later master of C041–C060 that repeats some
//!   customers unchanged (duplicates), moves others (updates) and adds new ones. One table
//!   file.
//! - `touchpoints/`: three objects of two months each (six partitions), no touch id, every
//!   channel word plus one Conveyor does not know (`fax`, kept), a few unknown kinds
//!   (quarantined), rows exported twice within and across objects (duplicates). Customers
//!   C061–C070 are in neither customers nor orders: orphans.
//! - `nps_responses/`: two objects over three months; scores 0–10, a few 11 and -1
//!   (quarantined), re-answers of the same (customer, time) with another score (updates)
//!   and verbatim repeats.
//! - `subscription_events/`: four objects of two months each (eight partitions); every
//!   event, cancellation reasons, a few unknown events (quarantined), repeats and rows that
//!   change the reason of an earlier (subscription, event, time).
//!
//! The object and partition counts per dataset are what the kill test's crash points are
//! placed by (tests/reliability.rs).

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The five datasets, in the order a run ingests them ([`pipeline::dataset::ALL`]).
pub const FIVE: [&str; 5] = [
    "orders",
    "customers",
    "touchpoints",
    "nps_responses",
    "subscription_events",
];

/// One export object: its dataset, its key under the source and its CSV text.
pub struct Object {
    pub dataset: &'static str,
    pub name: String,
    pub csv: String,
}

/// Every object of every dataset, in the order they are made (and listed).
pub struct Shop {
    pub objects: Vec<Object>,
}

const PREFECTURES: [&str; 5] = ["東京都", "大阪府", "神奈川県", "北海道", "福岡県"];
const CHANNELS: [&str; 6] = ["email", "line", "dm", "call", "enclosure", "fax"];
const EVENTS: [&str; 5] = ["start", "skip", "pause", "resume", "cancel"];
const REASONS: [&str; 4] = ["価格が高い", "商品が余っている", "効果を感じない", ""];

/// A local time in 2024: month `m` (1-based), a random day (1–28) and time of day.
fn at(rng: &mut ChaCha8Rng, m: u32) -> String {
    format!(
        "2024-{m:02}-{:02} {:02}:{:02}:{:02}",
        rng.random_range(1..=28),
        rng.random_range(0..24),
        rng.random_range(0..60),
        rng.random_range(0..60)
    )
}

fn pick<'a>(rng: &mut ChaCha8Rng, words: &[&'a str]) -> &'a str {
    words[rng.random_range(0..words.len())]
}

fn csv(header: &str, rows: &[String]) -> String {
    let mut s = header.to_string();
    for r in rows {
        s.push('\n');
        s.push_str(r);
    }
    s.push('\n');
    s
}

/// `n` rows picked from `rows`, repeated verbatim (an export that overlaps another).
fn repeats(rng: &mut ChaCha8Rng, rows: &[String], n: usize) -> Vec<String> {
    (0..n)
        .map(|_| rows[rng.random_range(0..rows.len())].clone())
        .collect()
}

impl Shop {
    pub fn new(seed: u64) -> Shop {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut objects = Vec::new();
        let mut add = |dataset: &'static str, name: String, csv: String| {
            objects.push(Object { dataset, name, csv })
        };

        // orders: C001–C055, one object a month.
        let mut n = 0;
        for m in 1..=2u32 {
            let rows: Vec<String> = (0..60)
                .map(|_| {
                    n += 1;
                    format!(
                        "O{n:04},C{:03},{},{}",
                        rng.random_range(1..=55),
                        at(&mut rng, m),
                        rng.random_range(10..200) * 100
                    )
                })
                .collect();
            add(
                "orders",
                format!("orders/orders_2024-{m:02}.csv"),
                csv("order_id,customer_id,ordered_at,amount", &rows),
            );
        }

        // customers: a master, then a later one that overlaps it.
        let customer = |rng: &mut ChaCha8Rng, c: u32, prefecture: &str| {
            let birthday = if rng.random_bool(0.7) {
                format!(
                    "{}-{:02}-{:02}",
                    rng.random_range(1950..2005),
                    rng.random_range(1..=12),
                    rng.random_range(1..=28)
                )
            } else {
                String::new()
            };
            let month = rng.random_range(1..=12);
            let signed_up = at(rng, month).replace("2024-", "2023-");
            let opt_in = pick(rng, &["true", "false", ""]);
            format!("C{c:03},{birthday},{signed_up},{prefecture},{opt_in}")
        };
        let header = "customer_id,birthday,signed_up_at,prefecture,email_opt_in";
        let mut first: Vec<String> = (1..=50)
            .map(|c| {
                let p = if rng.random_bool(0.1) {
                    ""
                } else {
                    pick(&mut rng, &PREFECTURES)
                };
                customer(&mut rng, c, p)
            })
            .collect();
        first.insert(10, "C901,1985-02-30,2023-01-01 10:00:00,東京都,true".into());
        first.insert(
            20,
            "C902,1990-01-01,2023-01-01 10:00:00,東京都,maybe".into(),
        );
        let mut later: Vec<String> = first[42..52].to_vec();
        for row in later.iter_mut().step_by(2) {
            // Moved: the same customer in another prefecture.
            let (id, rest) = row.split_once(',').unwrap();
            let mut f: Vec<&str> = rest.split(',').collect();
            let moved = if f[2] == "沖縄県" {
                "京都府"
            } else {
                "沖縄県"
            };
            f[2] = moved;
            *row = format!("{id},{}", f.join(","));
        }
        for c in 51..=60 {
            let p = pick(&mut rng, &PREFECTURES);
            later.push(customer(&mut rng, c, p));
        }
        add(
            "customers",
            "customers/master_1.csv".into(),
            csv(header, &first),
        );
        add(
            "customers",
            "customers/master_2.csv".into(),
            csv(header, &later),
        );

        // touchpoints: three objects of two months; C061–C070 are orphans.
        let header = "customer_id,touched_at,channel,kind,campaign";
        let mut previous: Vec<String> = Vec::new();
        for (i, months) in [[1u32, 2], [3, 4], [5, 6]].iter().enumerate() {
            let mut rows: Vec<String> = (0..50)
                .map(|_| {
                    let m = months[rng.random_range(0..2)];
                    format!(
                        "C{:03},{},{},{},{}",
                        rng.random_range(1..=70),
                        at(&mut rng, m),
                        pick(&mut rng, &CHANNELS),
                        pick(&mut rng, &["approach", "offer"]),
                        pick(&mut rng, &["welcome", "f2_coupon", ""])
                    )
                })
                .collect();
            rows.push(format!(
                "C001,{},email,gift,welcome",
                at(&mut rng, months[0])
            ));
            rows.push(format!("C002,{},line,survey,", at(&mut rng, months[1])));
            let again = repeats(&mut rng, &rows[..50], 4);
            rows.extend(again);
            if !previous.is_empty() {
                let overlap = repeats(&mut rng, &previous, 3);
                rows.extend(overlap);
            }
            add(
                "touchpoints",
                format!("touchpoints/touchpoints_{}.csv", i + 1),
                csv(header, &rows),
            );
            previous = rows;
        }

        // nps_responses: two objects over January to March.
        let header = "customer_id,responded_at,score,comment";
        let answer = |rng: &mut ChaCha8Rng, m: u32| {
            format!(
                "C{:03},{},{},{}",
                rng.random_range(1..=65),
                at(rng, m),
                rng.random_range(0..=10),
                pick(rng, &["good", "slow delivery", ""])
            )
        };
        let mut first: Vec<String> = (0..40).map(|i| answer(&mut rng, 1 + i % 2)).collect();
        first.push(format!("C003,{},11,", at(&mut rng, 1)));
        let mut second: Vec<String> = (0..40).map(|i| answer(&mut rng, 2 + i % 2)).collect();
        second.push(format!("C004,{},-1,", at(&mut rng, 3)));
        // Re-answers of the same (customer, time) with another score: updates.
        for row in &first[..6] {
            let f: Vec<&str> = row.split(',').collect();
            let score = (f[2].parse::<u32>().unwrap() + 3) % 11;
            second.push(format!("{},{},{score},{}", f[0], f[1], f[3]));
        }
        let again = repeats(&mut rng, &first[6..40], 3);
        second.extend(again);
        add(
            "nps_responses",
            "nps_responses/nps_1.csv".into(),
            csv(header, &first),
        );
        add(
            "nps_responses",
            "nps_responses/nps_2.csv".into(),
            csv(header, &second),
        );

        // subscription_events: four objects of two months each.
        let header = "subscription_id,customer_id,event,at,reason";
        let mut previous: Vec<String> = Vec::new();
        for (i, months) in [[1u32, 2], [3, 4], [5, 6], [7, 8]].iter().enumerate() {
            let mut rows: Vec<String> = (0..30)
                .map(|_| {
                    let s = rng.random_range(1..=25);
                    let m = months[rng.random_range(0..2)];
                    let event = pick(&mut rng, &EVENTS);
                    let reason = if event == "cancel" {
                        pick(&mut rng, &REASONS)
                    } else {
                        ""
                    };
                    format!(
                        "SUB{s:02},C{:03},{event},{},{reason}",
                        40 + s,
                        at(&mut rng, m)
                    )
                })
                .collect();
            rows.push(format!(
                "SUB01,C041,unsubscribe,{},",
                at(&mut rng, months[0])
            ));
            let again = repeats(&mut rng, &rows[..30], 2);
            rows.extend(again);
            // A later row for the same (subscription, event, time) with another reason.
            for row in previous.iter().filter(|r| r.contains(",cancel,")).take(2) {
                let (rest, reason) = row.rsplit_once(',').unwrap();
                let other = if reason == "価格が高い" {
                    "届く頻度が多い"
                } else {
                    "価格が高い"
                };
                rows.push(format!("{rest},{other}"));
            }
            add(
                "subscription_events",
                format!("subscription_events/events_{}.csv", i + 1),
                csv(header, &rows),
            );
            previous = rows;
        }
        Shop { objects }
    }

    /// The objects of `dataset`, in order.
    pub fn of(&self, dataset: &str) -> impl Iterator<Item = &Object> {
        self.objects.iter().filter(move |o| o.dataset == dataset)
    }

    /// DuckDB's own reading of the objects as written under `dir` by [`Shop::write`]
    /// (tests/duckdb_check.py): per dataset, the accounting, orphans, keys and aggregates.
    pub fn duckdb(&self, dir: &Path) -> serde_json::Value {
        let mut files = serde_json::Map::new();
        for name in FIVE {
            let paths: Vec<String> = self
                .of(name)
                .map(|o| dir.join(&o.name).to_string_lossy().into_owned())
                .collect();
            files.insert(name.into(), paths.into());
        }
        let out = std::process::Command::new("python3")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/duckdb_check.py"))
            .arg(serde_json::Value::Object(files).to_string())
            .output()
            .expect("python3 runs (ci/setup.sh installs duckdb)");
        assert!(
            out.status.success(),
            "duckdb_check.py: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Writes every object as UTF-8 CSV under `dir`, each a minute newer than the one
    /// before (objects are listed oldest first, so this is the order they are read in).
    pub fn write(&self, dir: &Path) {
        self.write_where(dir, |_| true);
    }

    /// Writes the objects `keep` picks, with the times [`Shop::write`] gives them.
    pub fn write_where(&self, dir: &Path, keep: impl Fn(&Object) -> bool) {
        for (i, o) in self.objects.iter().enumerate().filter(|(_, o)| keep(o)) {
            super::write(dir, &o.name, &o.csv);
            super::set_mtime(&dir.join(&o.name), 1_700_000_000 + 60 * i as u64);
        }
    }
}
