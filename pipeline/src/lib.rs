//! # Conveyor pipeline
//!
//! Order exports in object storage → a Parquet warehouse → the belt-conveyor CRM marts →
//! a Monte Carlo forecast → an executive report, with the warehouse served to BI tools over
//! the PostgreSQL wire protocol. The `conveyor` binary is a thin shell over this library:
//! one public function per subcommand.
//!
//! Where things live: [`config`] (conveyor.toml, every section), [`storage`] (object-store
//! URLs), [`dataset`] (schemas, header aliases, value parsing), [`ingest`] (exports →
//! warehouse), [`warehouse`] (layout, atomic publishing, table registration), [`session`]
//! (the session every reader opens), [`marts`] (the CRM SQL marts), [`forecast`]
//! (calibration, Monte Carlo, forecast tables), [`run`] (the stages chained, the run lock
//! and history), [`schedule`] (cron), [`serve`] (the PostgreSQL wire protocol for BI
//! tools), [`report`] (the executive HTML report), [`generate`] (synthetic exports),
//! [`query`] (ad-hoc SQL), [`export`] (a table as CSV for Excel and CRM tools), [`demo`]
//! (the guided first run), and, with the `ballista` feature, `cluster` (the marts and
//! queries on an Apache DataFusion Ballista cluster, docs/scale.md).
//!
//! Dependencies point down: `config`, `storage`, `dataset` and `warehouse` use no stage
//! module (`tests/architecture.rs` checks it); the stages use them, and [`session`] composes
//! what the stages register into a reader's session.

pub mod cells;
pub mod cli;
#[cfg(feature = "ballista")]
pub mod cluster;
pub mod config;
pub mod crash;
pub mod dataset;
pub mod demo;
pub mod error;
pub mod export;
pub mod forecast;
pub mod format;
pub mod generate;
pub mod ingest;
pub mod marts;
pub mod month;
pub mod progress;
pub mod query;
pub mod report;
pub mod run;
pub mod schedule;
pub mod serve;
pub mod session;
pub mod shutdown;
pub mod storage;
pub mod warehouse;

pub use error::{Error, Result};
