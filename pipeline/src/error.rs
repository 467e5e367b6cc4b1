//! The pipeline's one error type.
//!
//! Every variant carries the context an operator needs to act on it — which config key,
//! which object, which line and column — so that a message read at 3 a.m. says what to fix
//! without a debugger. A stage with its own error type (the marts' [`MartsError`], the
//! simulator's [`simulator::SimError`]) is wrapped whole, so its file, line and column reach
//! the user and callers can still match on it. `anyhow` is used only at the binary's edge.

use std::fmt;

use crate::marts::MartsError;

/// A position inside a source object: the object's key and, where known, line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub object: String,
    pub line: Option<u64>,
    pub column: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.object)?;
        if let Some(line) = self.line {
            write!(f, " line {}", crate::format::thousands(line as i128))?;
        }
        if let Some(column) = &self.column {
            write!(f, " column {column}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("config {file}: key `{key}`: {message}")]
    Config {
        file: String,
        key: String,
        message: String,
    },

    #[error("storage {url}: {message}")]
    StorageUrl { url: String, message: String },

    #[error("object store {url}: {source}")]
    ObjectStore {
        url: String,
        #[source]
        source: object_store::Error,
    },

    #[error("{location}: {message}")]
    Input { location: Location, message: String },

    #[error("warehouse {table}: {message}")]
    Warehouse { table: String, message: String },

    #[error(
        "another run holds the lock {path} (since {since}, pid {pid} on {host}); wait for it or remove the lock if that process is gone"
    )]
    Locked {
        path: String,
        since: String,
        pid: u32,
        host: String,
    },

    #[error("run {run_id} failed in stage {stage}: {message}")]
    Stage {
        stage: String,
        run_id: String,
        message: String,
    },

    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),

    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),

    #[error(transparent)]
    Parquet(#[from] datafusion::parquet::errors::ParquetError),

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// Too little order history for a forecast (a young shop); `conveyor run` records the
    /// forecast stage as skipped instead of failing.
    #[error("{0}")]
    NotEnoughHistory(String),

    /// A mart could not be built: its SQL file, line and column, or the `[marts]` key.
    #[error(transparent)]
    Marts(#[from] MartsError),

    /// The forecast's model refused its input (calibration, parameters, simulation).
    #[error("forecast: {0}")]
    Simulation(#[from] simulator::SimError),

    /// A command-line value is out of range or inconsistent: which flag, what is expected.
    #[error("{flag}: {message}")]
    Usage { flag: String, message: String },

    /// `conveyor export` cannot write a value (a character CP932 lacks): which table, row
    /// (`row 3`, or `header`) and column, and what to do instead.
    #[error("export {table} {row} column {column}: {message}")]
    Export {
        table: String,
        row: String,
        column: String,
        message: String,
    },

    /// The report's template failed to load or render.
    #[error("report template: {0}")]
    Template(String),

    /// JSON that Conveyor writes (pointers, run records) could not be encoded.
    #[error("{context}: {source}")]
    Json {
        context: String,
        #[source]
        source: serde_json::Error,
    },

    /// Something Conveyor itself guarantees did not hold (a bug): what, where.
    /// The query engine of `[engine] url` (a Ballista cluster) cannot be used: not reachable,
    /// or this binary was built without it.
    #[error("engine {url}: {message}")]
    Engine { url: String, message: String },

    #[error("internal error: {0} (please report this)")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn usage(flag: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Usage {
            flag: flag.into(),
            message: message.into(),
        }
    }

    pub fn json(context: impl Into<String>, source: serde_json::Error) -> Self {
        Error::Json {
            context: context.into(),
            source,
        }
    }

    pub fn store(url: impl Into<String>, source: object_store::Error) -> Self {
        Error::ObjectStore {
            url: url.into(),
            source,
        }
    }
}
