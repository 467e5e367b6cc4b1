//! The session every reader opens (query, marts, forecast, report, serve): a DataFusion
//! session over the warehouse with its committed tables, each dataset's quarantine as
//! `quarantine_<dataset>` and the current forecast run's tables.
//!
//! It sits above the stages because it composes what they own: the warehouse registers its
//! tables ([`crate::warehouse::new_session`]), ingest its quarantines and the forecast its
//! current run. So `warehouse/` needs to know no stage.
//!
//! [`open_engine_session`] is the same session on the configured engine (`[engine] url`):
//! in this process by default, or a client of a Ballista cluster; the marts and `conveyor
//! query` open it.

use datafusion::prelude::SessionContext;

use crate::config::Config;
use crate::error::Result;
use crate::warehouse::Warehouse;

/// Opens the configured warehouse and a session over it, time zone set to the configured
/// one. Its queries run in this process, whatever `[engine] url` says.
pub async fn open_session(config: &Config) -> Result<(SessionContext, Warehouse)> {
    let wh = Warehouse::new(crate::storage::open_location(
        config,
        &config.storage.warehouse,
    )?);
    let (ctx, _) = crate::warehouse::new_session(config, &wh).await?;
    register_stages(&ctx, &wh).await?;
    Ok((ctx, wh))
}

/// [`open_session`] on the configured engine: with `[engine] url` set, a session whose
/// queries run on that Ballista cluster (marked [`crate::marts::OnCluster`], so the marts
/// keep what they share as plans the cluster can run); else the in-process session.
pub async fn open_engine_session(config: &Config) -> Result<(SessionContext, Warehouse)> {
    let Some(url) = &config.engine.url else {
        return open_session(config).await;
    };
    let wh = Warehouse::new(crate::storage::open_location(
        config,
        &config.storage.warehouse,
    )?);
    let ctx = remote_session(config, url).await?;
    crate::warehouse::register_tables(&ctx, config, &wh).await?;
    register_stages(&ctx, &wh).await?;
    Ok((ctx, wh))
}

async fn register_stages(ctx: &SessionContext, wh: &Warehouse) -> Result<()> {
    crate::ingest::quarantine::register_tables(ctx, wh).await?;
    crate::forecast::store::register_latest(ctx, wh).await?;
    Ok(())
}

#[cfg(feature = "ballista")]
async fn remote_session(config: &Config, url: &str) -> Result<SessionContext> {
    let session_config = crate::warehouse::session_config(config)?.with_extension(
        std::sync::Arc::new(crate::marts::OnCluster {
            url: url.to_string(),
            mart_timeout: config.engine.mart_timeout(),
        }),
    );
    crate::cluster::client(
        url,
        session_config,
        crate::warehouse::runtime(&config.engine)?,
        &config.engine.settings,
    )
    .await
}

#[cfg(not(feature = "ballista"))]
async fn remote_session(_config: &Config, url: &str) -> Result<SessionContext> {
    Err(crate::Error::Engine {
        url: url.to_string(),
        message: "this conveyor was built without the `ballista` feature \
                  (cargo build --release --features pipeline/ballista); unset [engine] url \
                  (--engine \"\") to run in-process"
            .into(),
    })
}
