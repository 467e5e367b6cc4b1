//! The one error type of the marts module.
//!
//! Every variant carries the context a user needs to act: which mart file, which line and
//! column of the SQL, which configuration key. SQL errors keep the DataFusion error as their
//! source so callers can still inspect it.

use std::path::PathBuf;

use datafusion::error::DataFusionError;

/// Boxed error returned by a [`crate::marts::MartSink`].
pub type SinkError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong while building the marts.
#[derive(Debug, thiserror::Error)]
pub enum MartsError {
    /// A `[marts]` setting is out of range or inconsistent.
    #[error("marts config: {key}: {message}")]
    Config {
        /// The offending key, as written in `[marts]`.
        key: &'static str,
        /// What is wrong and what is expected.
        message: String,
    },

    /// The configured time zone is not an IANA zone name.
    #[error("marts: unknown time zone {0:?} (expected an IANA name such as \"Asia/Tokyo\")")]
    TimeZone(String),

    /// The SQL override directory (or a file in it) could not be read.
    #[error("marts: cannot read {path}: {source}")]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },

    /// A mart file is not a valid template (unknown parameter, bad `{{ }}` syntax, …).
    #[error("{file}{}: template error: {message}", fmt_line(*line))]
    Template {
        /// The mart's SQL file, e.g. `sql/marts/customer_summary.sql`.
        file: String,
        /// Line in the file, when known.
        line: Option<usize>,
        /// The template engine's explanation.
        message: String,
    },

    /// A mart's SQL failed to parse, plan or execute.
    #[error("{file}{}: {source}", fmt_pos(*line, *column))]
    Sql {
        /// The mart's SQL file, e.g. `sql/marts/customer_summary.sql`.
        file: String,
        /// Line of the offending token in the (rendered) file, when DataFusion reports one.
        line: Option<u64>,
        /// Column of the offending token, when DataFusion reports one.
        column: Option<u64>,
        /// The DataFusion error.
        source: DataFusionError,
    },

    /// A step outside any mart file failed (determining `as_of`, registering `counted_orders`).
    #[error("marts: {context}: {source}")]
    DataFusion {
        /// What the runner was doing.
        context: String,
        /// The DataFusion error.
        source: DataFusionError,
    },

    /// `only` named marts that do not exist.
    #[error("marts: unknown mart(s) {unknown:?}; available: {available:?}")]
    UnknownMart {
        /// The names not found.
        unknown: Vec<String>,
        /// All mart names.
        available: Vec<String>,
    },

    /// Marts read each other in a circle, so no order can build them.
    #[error("marts: dependency cycle among {0:?}")]
    Cycle(Vec<String>),

    /// A mart's job on a cluster ran past `[engine] mart_timeout_seconds`.
    #[error(
        "marts: {mart} did not finish within {seconds} s on the cluster {url}. It and the \
         marts after it keep their previous version. A job can hang on Ballista 55 after an \
         executor is lost: check the executors and run again, or raise \
         [engine] mart_timeout_seconds if the mart needs longer"
    )]
    ClusterTimeout {
        /// The mart whose job did not finish.
        mart: String,
        /// The cluster's URL.
        url: String,
        /// The limit it ran past.
        seconds: u64,
    },

    /// A mart's job on a cluster finished, but its result failed the check made before
    /// publishing ([`crate::cluster::verify`]).
    #[error(
        "marts: {mart}: {message} (cluster {url}). It and the marts after it keep their \
         previous version; check the executors and run `conveyor marts` again"
    )]
    ClusterResult {
        /// The mart whose result was refused.
        mart: String,
        /// The cluster's URL.
        url: String,
        /// What the check found.
        message: String,
        /// Whether a fresh job may come out whole (the runner then runs it once more).
        again: bool,
    },

    /// The caller's sink refused a mart's result.
    #[error("marts: writing {mart} failed: {source}")]
    Sink {
        /// The mart being written.
        mart: String,
        /// The sink's error.
        source: SinkError,
    },
}

impl From<crate::config::MartsConfigError> for MartsError {
    fn from(e: crate::config::MartsConfigError) -> Self {
        MartsError::Config {
            key: e.key,
            message: e.message,
        }
    }
}

fn fmt_line(line: Option<usize>) -> String {
    line.map(|l| format!(" line {l}")).unwrap_or_default()
}

fn fmt_pos(line: Option<u64>, column: Option<u64>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" line {l} column {c}"),
        (Some(l), None) => format!(" line {l}"),
        _ => String::new(),
    }
}

impl MartsError {
    /// A constructor for [`MartsError::DataFusion`] errors of one step, for `map_err`:
    /// `.map_err(MartsError::step("reading table orders"))`.
    pub fn step(context: &str) -> impl Fn(DataFusionError) -> MartsError + use<> {
        let context = context.to_string();
        move |source| MartsError::DataFusion {
            context: context.clone(),
            source,
        }
    }
}
