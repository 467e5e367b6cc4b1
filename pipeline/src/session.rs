//! The session every reader opens (query, marts, forecast, report, serve): a DataFusion
//! session over the warehouse with its committed tables, each dataset's quarantine as
//! `quarantine_<dataset>` and the current forecast run's tables.
//!
//! It sits above the stages because it composes what they own: the warehouse registers its
//! tables ([`crate::warehouse::new_session`]), ingest its quarantines and the forecast its
//! current run. So `warehouse/` needs to know no stage.

use datafusion::prelude::SessionContext;

use crate::config::Config;
use crate::error::Result;
use crate::warehouse::Warehouse;

/// Opens the configured warehouse and a session over it, time zone set to the configured
/// one.
pub async fn open_session(config: &Config) -> Result<(SessionContext, Warehouse)> {
    let wh = Warehouse::new(crate::storage::open_location(
        config,
        &config.storage.warehouse,
    )?);
    let (ctx, _) = crate::warehouse::new_session(config, &wh).await?;
    crate::ingest::quarantine::register_tables(&ctx, &wh).await?;
    crate::forecast::store::register_latest(&ctx, &wh).await?;
    Ok((ctx, wh))
}
