//! `conveyor.toml`: every setting the pipeline reads, with a default for each.
//!
//! The demo needs no file at all: [`Config::default`] is a working configuration (local
//! folders as object stores, Asia/Tokyo, JPY). A file only states what differs; unknown keys
//! are errors (a typo must not silently fall back to a default), and semantic checks after
//! parsing name the offending key. Command-line flags override the file through
//! [`Overrides`]. Secrets never live in the file: object-store credentials come from each
//! cloud's standard environment variables, and any `[storage.options]` value written as
//! `env:NAME` is read from the environment variable `NAME`.
//!
//! This module owns every section's type, the stages' own sections included
//! ([`MartsConfig`], [`ForecastConfig`], [`ScheduleConfig`], [`ServeConfig`]), so that it
//! depends on no stage: the stages read their settings from here.

mod forecast;
mod marts;
mod schedule;
mod serve;
mod template;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

pub use forecast::{BASELINE, ForecastConfig, HistoryStart, ModelChoice, STAGE_CAP};
pub use marts::{CancellationCategory, MartsConfig, MartsConfigError, MemberRank, StateEngine};
pub use schedule::ScheduleConfig;
pub use serve::{ServeConfig, ServeUser};
pub use template::EXAMPLE;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub storage: StorageConfig,
    pub time: TimeConfig,
    pub money: MoneyConfig,
    pub datasets: DatasetsConfig,
    pub ingest: IngestConfig,
    pub marts: MartsConfig,
    pub schedule: ScheduleConfig,
    pub forecast: ForecastConfig,
    pub serve: ServeConfig,
    pub engine: EngineConfig,
}

/// How much the query engine (DataFusion) may hold in memory. Sorts and most aggregations
/// beyond the limit spill to temporary files instead of growing; what cannot spill
/// (hash-join build sides, some aggregations) fails with "Resources exhausted" naming the
/// limit.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Memory limit in MiB for each command's queries. Unset (the default): half of the
    /// machine's memory — the smaller of the physical memory and the container's cgroup
    /// limit. `0`: no limit.
    pub memory_limit_mib: Option<u64>,
    /// Folder for spill files; default: the system's temporary folder.
    pub spill_dir: Option<std::path::PathBuf>,
    /// Where the marts and `conveyor query` run: unset (the default) in this process;
    /// `ballista://host:port` on an Apache DataFusion Ballista cluster whose scheduler
    /// listens there (`conveyor cluster`, docs/scale.md; needs a binary built with the
    /// `ballista` feature). Overridden by `--engine`.
    pub url: Option<String>,
    /// Settings for the cluster's sessions, on top of Conveyor's (DataFusion's
    /// `datafusion.*` and Ballista's `ballista.*` keys), e.g.
    /// `"ballista.shuffle.compression.codec" = "zstd"`. Unused in-process.
    pub settings: BTreeMap<String, String>,
    /// On a cluster, how long one mart's job may run before the run fails with an error
    /// naming the mart, in seconds. Unset (the default): one hour; `0`: no limit. A guard
    /// against a job that never ends: Ballista 55 can leave a job waiting forever after an
    /// executor is lost (docs/scale.md). Unused in-process.
    pub mart_timeout_seconds: Option<u64>,
}

impl EngineConfig {
    /// The default of `mart_timeout_seconds`.
    pub const DEFAULT_MART_TIMEOUT_SECONDS: u64 = 3600;

    /// `mart_timeout_seconds` as a limit: `None` when there is none (`0`).
    pub fn mart_timeout(&self) -> Option<std::time::Duration> {
        match self
            .mart_timeout_seconds
            .unwrap_or(Self::DEFAULT_MART_TIMEOUT_SECONDS)
        {
            0 => None,
            s => Some(std::time::Duration::from_secs(s)),
        }
    }

    /// The engine's name for the run history and messages: `in-process` or the URL.
    pub fn name(&self) -> String {
        self.url.clone().unwrap_or_else(|| "in-process".into())
    }

    /// Checks `url`: a `ballista://host[:port]` URL.
    pub fn validate(&self) -> Result<()> {
        let Some(spec) = &self.url else {
            return Ok(());
        };
        let bad = |message: String| config_err("engine.url", message);
        let url = url::Url::parse(spec).map_err(|e| {
            bad(format!(
                "{spec:?} is not a URL ({e}); expected ballista://host:port"
            ))
        })?;
        if url.scheme() != "ballista" {
            return Err(bad(format!(
                "{spec:?}: only ballista://host:port is supported (leave it unset to run in-process)"
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad(format!(
                "{spec:?} names no host; expected ballista://host:port"
            )));
        }
        Ok(())
    }
}

/// Where exports are read from and where the warehouse lives. Both are object-store URLs
/// (`file://`, `s3://`, `gs://`, `az://`, `memory://`) or plain local paths.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub source: String,
    pub warehouse: String,
    /// Extra object-store options (e.g. `aws_endpoint`, `aws_allow_http`); a value
    /// `env:NAME` is read from the environment.
    pub options: BTreeMap<String, String>,
    /// Attempts per object-store call on transient errors (1 = no retry).
    pub retry_attempts: u32,
    /// First backoff in milliseconds; doubles per attempt, with full jitter.
    pub retry_base_ms: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            source: "./exports".into(),
            warehouse: "./warehouse".into(),
            options: BTreeMap::new(),
            retry_attempts: 5,
            retry_base_ms: 100,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TimeConfig {
    /// IANA time zone for timestamps without an offset and for day/month/year bucketing.
    pub zone: String,
}

impl Default for TimeConfig {
    fn default() -> Self {
        TimeConfig {
            zone: "Asia/Tokyo".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MoneyConfig {
    /// ISO 4217 code.
    pub currency: String,
    /// Digits after the decimal point; derived from the currency when not given.
    pub minor_units: Option<u8>,
}

impl Default for MoneyConfig {
    fn default() -> Self {
        MoneyConfig {
            currency: "JPY".into(),
            minor_units: None,
        }
    }
}

/// Minor units of the currencies a Japanese D2C business is likely to report in.
/// Others need `money.minor_units`.
const KNOWN_MINOR_UNITS: &[(&str, u8)] = &[
    ("JPY", 0),
    ("KRW", 0),
    ("VND", 0),
    ("TWD", 2),
    ("USD", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("CNY", 2),
    ("HKD", 2),
    ("SGD", 2),
    ("AUD", 2),
    ("CAD", 2),
    ("THB", 2),
    ("CHF", 2),
];

impl MoneyConfig {
    /// Digits after the decimal point that amounts are stored with.
    pub fn scale(&self) -> Result<u8> {
        if let Some(units) = self.minor_units {
            if units > 6 {
                return Err(config_err(
                    "money.minor_units",
                    format!("{units} is not supported; expected 0 to 6"),
                ));
            }
            return Ok(units);
        }
        let code = self.currency.to_ascii_uppercase();
        KNOWN_MINOR_UNITS
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, u)| *u)
            .ok_or_else(|| {
                config_err(
                    "money.currency",
                    format!(
                        "unknown currency {:?}; set money.minor_units (e.g. 2 for cents)",
                        self.currency
                    ),
                )
            })
    }
}

/// Per-dataset settings. Only `orders` is required; the others are read when their prefix
/// holds exports. A dataset's keys left out keep their defaults, its `prefix` included
/// (its own name and a slash: `orders/`, `customers/`, …), so `[datasets.orders]` with only
/// an encoding still reads `orders/`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DatasetsConfig {
    #[serde(deserialize_with = "orders_section")]
    pub orders: DatasetConfig,
    #[serde(deserialize_with = "customers_section")]
    pub customers: DatasetConfig,
    #[serde(deserialize_with = "touchpoints_section")]
    pub touchpoints: DatasetConfig,
    #[serde(deserialize_with = "nps_responses_section")]
    pub nps_responses: DatasetConfig,
    #[serde(deserialize_with = "subscription_events_section")]
    pub subscription_events: DatasetConfig,
}

/// A `deserialize_with` function reading a `[datasets.<name>]` section over the
/// dataset's defaults.
macro_rules! dataset_section {
    ($f:ident, $spec:path) => {
        fn $f<'de, D: serde::Deserializer<'de>>(d: D) -> Result<DatasetConfig, D::Error> {
            Ok(RawDataset::deserialize(d)?.over(DatasetConfig::of(&$spec)))
        }
    };
}
dataset_section!(orders_section, crate::dataset::ORDERS);
dataset_section!(customers_section, crate::dataset::CUSTOMERS);
dataset_section!(touchpoints_section, crate::dataset::TOUCHPOINTS);
dataset_section!(nps_responses_section, crate::dataset::NPS_RESPONSES);
dataset_section!(
    subscription_events_section,
    crate::dataset::SUBSCRIPTION_EVENTS
);

impl DatasetsConfig {
    /// The settings of the dataset called `name` (`order_lines` is read with the orders').
    pub fn get(&self, name: &str) -> Option<&DatasetConfig> {
        match name {
            "orders" | "order_lines" => Some(&self.orders),
            "customers" => Some(&self.customers),
            "touchpoints" => Some(&self.touchpoints),
            "nps_responses" => Some(&self.nps_responses),
            "subscription_events" => Some(&self.subscription_events),
            _ => None,
        }
    }
}

/// A `[datasets.<name>]` section as written: every key optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDataset {
    prefix: Option<String>,
    format: Option<FormatChoice>,
    encoding: Option<EncodingChoice>,
    delimiter: Option<String>,
    columns: Option<BTreeMap<String, HeaderNames>>,
    grain: Option<Grain>,
    preset: Option<String>,
}

impl RawDataset {
    /// The keys given, over the dataset's defaults.
    fn over(self, d: DatasetConfig) -> DatasetConfig {
        DatasetConfig {
            prefix: self.prefix.unwrap_or(d.prefix),
            format: self.format.unwrap_or(d.format),
            encoding: self.encoding.unwrap_or(d.encoding),
            delimiter: self.delimiter.unwrap_or(d.delimiter),
            columns: self.columns.unwrap_or(d.columns),
            grain: self.grain.or(d.grain),
            preset: self.preset.or(d.preset),
        }
    }
}

impl Default for DatasetsConfig {
    fn default() -> Self {
        use crate::dataset::*;
        DatasetsConfig {
            orders: DatasetConfig::of(&ORDERS),
            customers: DatasetConfig::of(&CUSTOMERS),
            touchpoints: DatasetConfig::of(&TOUCHPOINTS),
            nps_responses: DatasetConfig::of(&NPS_RESPONSES),
            subscription_events: DatasetConfig::of(&SUBSCRIPTION_EVENTS),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum FormatChoice {
    /// Decided per object from its name (`.csv`, `.csv.gz`, `.jsonl`, `.ndjson`, `.parquet`).
    #[default]
    Auto,
    Csv,
    Jsonl,
    Parquet,
    /// An Excel workbook (`.xlsx`, as saved by hand from an EC admin screen): its first sheet.
    Xlsx,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
pub enum EncodingChoice {
    /// UTF-8 (with or without BOM) unless the bytes are not UTF-8, then CP932.
    #[default]
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "utf-8", alias = "utf8")]
    Utf8,
    #[serde(
        rename = "cp932",
        alias = "shift_jis",
        alias = "sjis",
        alias = "windows-31j"
    )]
    Cp932,
}

/// How an orders export is laid out (`[datasets.orders] grain`).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Grain {
    /// Line items where a known platform's header set is recognised (a preset), else one
    /// row per order.
    #[default]
    Auto,
    /// One row per order: a second row of one export with the same order_id and other
    /// content is quarantined as a conflict.
    Order,
    /// One row per product line, folded into one order per order_id (and `order_lines`).
    Line,
}

/// One header name, or several accepted alternatives.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum HeaderNames {
    One(String),
    Many(Vec<String>),
}

impl HeaderNames {
    pub fn names(&self) -> Vec<&str> {
        match self {
            HeaderNames::One(s) => vec![s.as_str()],
            HeaderNames::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// One dataset's settings (read from `[datasets.<name>]` through `RawDataset`, over the
/// dataset's own defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetConfig {
    /// Key prefix under `storage.source` where this dataset's exports are.
    pub prefix: String,
    pub format: FormatChoice,
    pub encoding: EncodingChoice,
    /// CSV field delimiter (one ASCII character).
    pub delimiter: String,
    /// canonical field → export header(s), on top of the built-in Japanese/English aliases.
    pub columns: BTreeMap<String, HeaderNames>,
    /// Orders only: one row per order or per product line (`None`: not given, auto).
    pub grain: Option<Grain>,
    /// Orders only: a platform's header preset (`shopify`, `rakuten`, `futureshop`, `colorme`,
    /// `base`).
    pub preset: Option<String>,
}

impl DatasetConfig {
    /// The defaults of `spec`: its own prefix, any format and encoding, commas.
    pub fn of(spec: &crate::dataset::DatasetSpec) -> Self {
        Self::with_prefix(spec.default_prefix)
    }

    pub fn with_prefix(prefix: &str) -> Self {
        DatasetConfig {
            prefix: prefix.into(),
            format: FormatChoice::Auto,
            encoding: EncodingChoice::Auto,
            delimiter: ",".into(),
            columns: BTreeMap::new(),
            grain: None,
            preset: None,
        }
    }

    /// The configured grain (auto when not given).
    pub fn grain(&self) -> Grain {
        self.grain.unwrap_or_default()
    }

    pub fn delimiter_byte(&self, key: &str) -> Result<u8> {
        match self.delimiter.as_bytes() {
            [b] if b.is_ascii() => Ok(*b),
            _ => Err(config_err(
                key,
                format!("{:?} is not one ASCII character", self.delimiter),
            )),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Rows per Parquet row group in the warehouse.
    pub row_group_rows: usize,
    /// zstd level for warehouse Parquet files.
    pub zstd_level: i32,
    /// Rows of one run held in memory before they are staged to local spill files (in
    /// `[engine] spill_dir`); bounds ingest memory on large loads.
    pub memory_rows: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            row_group_rows: 256 * 1024,
            zstd_level: 3,
            memory_rows: 1_000_000,
        }
    }
}

/// Command-line overrides, applied on top of the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub source: Option<String>,
    pub warehouse: Option<String>,
    /// `--engine`: overrides `[engine] url`.
    pub engine: Option<String>,
}

impl Config {
    /// Reads `path` if given (an error if it does not exist), else `./conveyor.toml` if it
    /// exists, else the defaults; then applies the overrides and validates.
    pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Config> {
        let mut config = match path {
            Some(p) => Config::from_file(p)?,
            None => {
                let default_path = PathBuf::from("conveyor.toml");
                if default_path.exists() {
                    Config::from_file(&default_path)?
                } else {
                    Config::default()
                }
            }
        };
        if let Some(s) = &overrides.source {
            config.storage.source = s.clone();
        }
        if let Some(w) = &overrides.warehouse {
            config.storage.warehouse = w.clone();
        }
        if let Some(e) = &overrides.engine {
            // An empty --engine "" (or CONVEYOR_ENGINE=) means in-process.
            config.engine.url = (!e.trim().is_empty()).then(|| e.trim().to_string());
        }
        config.validate()?;
        Ok(config)
    }

    pub fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::io(format!("config {}", path.display()), e))?;
        Config::from_toml(&text, &path.display().to_string())
    }

    /// Parses TOML text; `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Config> {
        toml::from_str::<Config>(text).map_err(|e| Error::Config {
            file: origin.to_string(),
            key: e
                .span()
                .map(|s| key_at(text, s.start))
                .unwrap_or_else(|| "?".into()),
            message: e.message().to_string(),
        })
    }

    /// Semantic checks the type system cannot express, each naming its key.
    pub fn validate(&self) -> Result<()> {
        self.time_zone()?;
        self.money.scale()?;
        for spec in crate::dataset::ALL {
            if spec.settings_name() != spec.name {
                continue; // checked with the dataset whose settings it reads with
            }
            let name = spec.name;
            let dataset = self.datasets.get(name).expect("every dataset has settings");
            dataset.delimiter_byte(&format!("datasets.{name}.delimiter"))?;
            validate_grain(name, dataset)?;
            // An orders export may be read line by line: its line-item columns can be
            // mapped too.
            let line_items =
                (name == crate::dataset::ORDERS.name).then_some(&crate::dataset::lines::LINE_ITEMS);
            for field in dataset.columns.keys() {
                if spec.field(field).is_none()
                    && line_items.is_none_or(|l| l.field(field).is_none())
                {
                    let known: Vec<&str> = spec
                        .fields
                        .iter()
                        .chain(line_items.map_or(&[][..], |l| l.fields))
                        .map(|f| f.name)
                        .fold(Vec::new(), |mut v, n| {
                            if !v.contains(&n) {
                                v.push(n);
                            }
                            v
                        });
                    return Err(config_err(
                        &format!("datasets.{name}.columns.{field}"),
                        format!(
                            "not a field of {name}; expected one of {}",
                            known.join(", ")
                        ),
                    ));
                }
            }
        }
        self.forecast.validate()?;
        self.marts
            .validate()
            .map_err(|e| config_err("marts", e.to_string()))?;
        if self.ingest.row_group_rows == 0 {
            return Err(config_err(
                "ingest.row_group_rows",
                "must be at least 1".into(),
            ));
        }
        if self.ingest.memory_rows == 0 {
            return Err(config_err(
                "ingest.memory_rows",
                "must be at least 1".into(),
            ));
        }
        if !(1..=22).contains(&self.ingest.zstd_level) {
            return Err(config_err(
                "ingest.zstd_level",
                format!(
                    "{} is out of range; expected 1 to 22",
                    self.ingest.zstd_level
                ),
            ));
        }
        self.serve.validate()?;
        self.engine.validate()?;
        Ok(())
    }

    pub fn time_zone(&self) -> Result<chrono_tz::Tz> {
        self.time.zone.parse::<chrono_tz::Tz>().map_err(|_| {
            config_err(
                "time.zone",
                format!(
                    "{:?} is not an IANA time zone (e.g. \"Asia/Tokyo\", \"UTC\")",
                    self.time.zone
                ),
            )
        })
    }

    /// Object-store options with `env:NAME` values resolved.
    pub fn storage_options(&self) -> Result<Vec<(String, String)>> {
        self.storage
            .options
            .iter()
            .map(|(k, v)| match v.strip_prefix("env:") {
                Some(var) => std::env::var(var).map(|val| (k.clone(), val)).map_err(|_| {
                    config_err(
                        &format!("storage.options.{k}"),
                        format!("environment variable {var} is not set"),
                    )
                }),
                None => Ok((k.clone(), v.clone())),
            })
            .collect()
    }
}

/// `grain` and `preset` are orders' keys, and a preset names a known platform whose
/// exports are line items.
fn validate_grain(name: &str, dataset: &DatasetConfig) -> Result<()> {
    let orders = name == crate::dataset::ORDERS.name;
    if !orders && dataset.grain.is_some() {
        return Err(config_err(
            &format!("datasets.{name}.grain"),
            "only [datasets.orders] has a grain (one row per order or per product line)".into(),
        ));
    }
    let Some(preset) = &dataset.preset else {
        return Ok(());
    };
    let key = format!("datasets.{name}.preset");
    if !orders {
        return Err(config_err(
            &key,
            "only [datasets.orders] has header presets".into(),
        ));
    }
    if crate::dataset::presets::by_name(preset).is_none() {
        let known: Vec<&str> = crate::dataset::presets::PRESETS
            .iter()
            .map(|p| p.name)
            .collect();
        return Err(config_err(
            &key,
            format!(
                "{preset:?} is not a preset; expected one of {}",
                known.join(", ")
            ),
        ));
    }
    if dataset.grain == Some(Grain::Order) {
        return Err(config_err(
            &key,
            "a preset reads a line-item export; set grain = \"line\" or \"auto\" with it".into(),
        ));
    }
    Ok(())
}

/// An error in `conveyor.toml` at `key`.
pub(crate) fn config_err(key: &str, message: String) -> Error {
    Error::Config {
        file: "conveyor.toml".into(),
        key: key.into(),
        message,
    }
}

/// Best-effort name of the TOML key around byte `offset`: the nearest `[section]` header
/// above and the key on that line, e.g. `time.zone`.
fn key_at(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[line_start..]
        .find('\n')
        .map(|i| line_start + i)
        .unwrap_or(text.len());
    let line = text[line_start..line_end].trim();
    let section = before[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').to_string());
    if line.starts_with('[') {
        return line.trim_matches(|c| c == '[' || c == ']').to_string();
    }
    let key = line
        .split('=')
        .next()
        .unwrap_or("")
        .trim()
        .trim_matches('"');
    match section {
        Some(s) if !key.is_empty() => format!("{s}.{key}"),
        Some(s) => s,
        None => key.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_file() {
        let c = Config::default();
        c.validate().unwrap();
        assert_eq!(c.time_zone().unwrap(), chrono_tz::Asia::Tokyo);
        assert_eq!(c.money.scale().unwrap(), 0);
    }

    #[test]
    fn example_template_parses_and_equals_defaults() {
        // The example only shows defaults (commented extras aside), so it must parse to them.
        let c = Config::from_toml(EXAMPLE, "example").unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::from_toml("[time]\nzones = \"UTC\"\n", "x.toml").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("x.toml"), "{msg}");
        assert!(msg.contains("time.zones"), "{msg}");
    }

    #[test]
    fn wrong_type_is_named() {
        let err = Config::from_toml("[ingest]\nzstd_level = \"high\"\n", "c.toml").unwrap_err();
        assert!(err.to_string().contains("ingest.zstd_level"), "{err}");
    }

    #[test]
    fn bad_zone_names_key() {
        let c = Config::from_toml("[time]\nzone = \"Asia/Tokio\"\n", "c.toml").unwrap();
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("time.zone") && err.contains("Asia/Tokio"),
            "{err}"
        );
    }

    #[test]
    fn currency_minor_units() {
        let usd = MoneyConfig {
            currency: "usd".into(),
            minor_units: None,
        };
        assert_eq!(usd.scale().unwrap(), 2);
        let odd = MoneyConfig {
            currency: "XYZ".into(),
            minor_units: None,
        };
        assert!(
            odd.scale()
                .unwrap_err()
                .to_string()
                .contains("money.minor_units")
        );
        let given = MoneyConfig {
            currency: "XYZ".into(),
            minor_units: Some(3),
        };
        assert_eq!(given.scale().unwrap(), 3);
    }

    #[test]
    fn column_mapping_accepts_one_or_many() {
        let c = Config::from_toml(
            "[datasets.orders.columns]\norder_id = \"伝票番号\"\namount = [\"売上\", \"税込金額\"]\n",
            "c",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(
            c.datasets.orders.columns["order_id"].names(),
            vec!["伝票番号"]
        );
        assert_eq!(
            c.datasets.orders.columns["amount"].names(),
            vec!["売上", "税込金額"]
        );
        // A section that names no prefix keeps the dataset's own.
        assert_eq!(c.datasets.orders.prefix, "orders/");
        let c = Config::from_toml("[datasets.orders]\nencoding = \"cp932\"\n", "c").unwrap();
        assert_eq!(c.datasets.orders.prefix, "orders/");
        assert_eq!(c.datasets.orders.delimiter, ",");
        let c = Config::from_toml("[datasets.orders]\nprefix = \"\"\n", "c").unwrap();
        assert_eq!(c.datasets.orders.prefix, "");
        let typo = Config::from_toml("[datasets.orders]\nprefx = \"x/\"\n", "c");
        assert!(typo.unwrap_err().to_string().contains("prefx"));
        let bad = Config::from_toml("[datasets.orders.columns]\norderid = \"x\"\n", "c").unwrap();
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("datasets.orders.columns.orderid")
        );
    }

    #[test]
    fn grain_and_preset_are_orders_keys_and_a_wrong_value_names_its_key() {
        let c = Config::from_toml(
            "[datasets.orders]\ngrain = \"line\"\npreset = \"shopify\"\n[datasets.orders.columns]\nquantity = \"数\"\n",
            "c",
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(c.datasets.orders.grain(), Grain::Line);
        assert_eq!(c.datasets.orders.preset.as_deref(), Some("shopify"));
        assert_eq!(Config::default().datasets.orders.grain(), Grain::Auto);
        let err = |toml: &str| match Config::from_toml(toml, "c") {
            Err(e) => e.to_string(),
            Ok(c) => c.validate().unwrap_err().to_string(),
        };
        let e = err("[datasets.orders]\ngrain = \"lines\"\n");
        assert!(
            e.contains("datasets.orders.grain") && e.contains("lines"),
            "{e}"
        );
        let e = err("[datasets.orders]\npreset = \"amazon\"\n");
        assert!(
            e.contains("datasets.orders.preset") && e.contains("shopify, rakuten, futureshop"),
            "{e}"
        );
        let e = err("[datasets.customers]\ngrain = \"line\"\n");
        assert!(e.contains("datasets.customers.grain"), "{e}");
        let e = err("[datasets.orders]\ngrain = \"order\"\npreset = \"rakuten\"\n");
        assert!(e.contains("datasets.orders.preset"), "{e}");
    }

    #[test]
    fn overrides_win_over_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[storage]\nsource = \"s3://bucket/x\"\n").unwrap();
        let c = Config::load(
            Some(&p),
            &Overrides {
                source: None,
                warehouse: Some("/tmp/wh".into()),
                engine: None,
            },
        )
        .unwrap();
        assert_eq!(c.storage.source, "s3://bucket/x");
        assert_eq!(c.storage.warehouse, "/tmp/wh");
    }

    #[test]
    fn env_options_resolve() {
        // SAFETY: a variable name unique to this test.
        unsafe { std::env::set_var("CONVEYOR_TEST_ENDPOINT_X", "http://127.0.0.1:9") };
        let c = Config::from_toml(
            "[storage.options]\naws_endpoint = \"env:CONVEYOR_TEST_ENDPOINT_X\"\nregion = \"ap-northeast-1\"\n",
            "c",
        )
        .unwrap();
        let opts = c.storage_options().unwrap();
        assert!(opts.contains(&("aws_endpoint".into(), "http://127.0.0.1:9".into())));
        let missing = Config::from_toml(
            "[storage.options]\nk = \"env:CONVEYOR_NOPE_NOT_SET\"\n",
            "c",
        )
        .unwrap();
        assert!(
            missing
                .storage_options()
                .unwrap_err()
                .to_string()
                .contains("storage.options.k")
        );
    }
}
