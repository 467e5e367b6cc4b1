//! CRM marts (`docs/metrics.md`): the SQL tables of the "belt-conveyor" method, built from `orders`.
//!
//! The marts themselves are `.sql` files under `sql/marts/` (one table per file, compiled into
//! the binary, overridable with `[marts] sql_dir`). This module owns what runs them:
//!
//! * [`catalog`] — discovering the files and ordering them by dependency;
//! * [`render`] — turning a template plus parameters into SQL;
//! * [`runner`] — `build_marts`: registers `counted_orders`, builds each mart in a DataFusion
//!   `SessionContext`, registers it for the next ones and hands it to the caller's sink;
//! * [`functions`] — the SQL functions the marts need beyond DataFusion's (`sbg_fit`,
//!   `sbg_survival`, `sbg_lifetime`, `whole_months`, `normalize_text`), registered by the runner;
//! * [`state`] — the customer state (`sql/state/`) the core marts read: each customer's
//!   orders walked once, in one Rust pass over `counted_orders`;
//! * [`error`] — `MartsError`, naming the SQL file, line and column on failure;
//! * [`explain`] — how a mart runs (`--explain`): its physical and, on a cluster, distributed plan;
//! * [`publish`] — `conveyor marts`: build and publish each mart to `marts/<name>/`, and the
//!   headline numbers against the targets.
//!
//! Its parameters, `[marts]` (as_of, statuses, buckets, VIP, ranks, targets), are
//! [`MartsConfig`], owned by [`crate::config`]. Column-by-column definitions live in
//! `docs/metrics.md`.

pub mod catalog;
pub mod error;
pub mod explain;
pub mod functions;
mod percentile;
pub mod publish;
pub mod render;
pub mod runner;
pub mod state;

pub use crate::config::{MartsConfig, MemberRank};
pub use error::{MartsError, SinkError};
pub use explain::PlanPart;
pub use runner::{
    COUNTED_ORDERS, DiscardSink, MartRun, MartSink, OnCluster, build_marts, collect, mart_names,
    on_cluster, parse_as_of, resolve_as_of, status_filter,
};
