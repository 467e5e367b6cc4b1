//! Fresh data without restarts.
//!
//! A pipeline run publishes a table by replacing `_conveyor/tables/<t>.json`, and a forecast
//! or a backtest by replacing `forecasts/latest.json` or `forecasts/latest-backtest.json`. Before each statement the server lists those
//! pointer objects (one LIST and one HEAD: cheap next to any query) and compares their
//! (name, size, e_tag, modification time) with what it last loaded. When anything differs it
//! builds a new session the same way every reader does ([`crate::session::open_session`])
//! and swaps its `public` schema into the served session in one step, so a query sees
//! either all the old tables or all the new ones, never a mix or a missing table, and then
//! forgets the cached folder listings (which would still name the old files).
//! Queries already running keep the providers they planned with.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::QueryHook;
use datafusion_postgres::hooks::HookClient;
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use pgwire::api::ClientInfo;
use pgwire::api::results::Response;
use pgwire::error::PgWireResult;
use tokio::sync::Mutex;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::warehouse::{META_DIR, Warehouse};

/// The catalog and schema the served tables live in.
pub const CATALOG: &str = "conveyor";
pub const SCHEMA: &str = "public";

/// What identifies one published state of the warehouse.
type Fingerprint = Vec<(String, u64, Option<String>, i64)>;

/// Reloads the served tables when a run has published new versions.
pub struct Refresher {
    config: Config,
    wh: Warehouse,
    loaded: Mutex<Fingerprint>,
}

impl Refresher {
    /// A refresher for a session just built by `open_session` from `config`.
    pub async fn new(config: Config, wh: Warehouse) -> Result<Self> {
        let loaded = fingerprint(&wh).await?;
        Ok(Refresher {
            config,
            wh,
            loaded: Mutex::new(loaded),
        })
    }

    /// Brings `ctx`'s tables up to date; returns whether anything was reloaded.
    pub async fn ensure_fresh(&self, ctx: &SessionContext) -> Result<bool> {
        let mut loaded = self.loaded.lock().await;
        let now = fingerprint(&self.wh).await?;
        if now == *loaded {
            return Ok(false);
        }
        let (fresh, _) = crate::session::open_session(&self.config).await?;
        let schema = fresh
            .catalog(CATALOG)
            .and_then(|c| c.schema(SCHEMA))
            .ok_or_else(|| Error::Internal(format!("a new session has no {CATALOG}.{SCHEMA}")))?;
        let catalog = ctx.catalog(CATALOG).ok_or_else(|| {
            Error::Internal(format!("the served session has no catalog {CATALOG}"))
        })?;
        catalog.register_schema(SCHEMA, schema)?;
        // DataFusion caches each table folder's listing for the life of the runtime (no
        // TTL by default). A republished table has new file names and the old ones are
        // deleted, so a stale listing would match none of the new version's files and the
        // table would read as empty: forget every listing once the new tables are in.
        if let Some(cache) = ctx.runtime_env().cache_manager.get_list_files_cache() {
            cache.clear();
        }
        tracing::info!(
            tables = now.len(),
            "reloaded tables after a pipeline run published new versions"
        );
        *loaded = now;
        Ok(true)
    }
}

/// What identifies one version of an object.
fn identity(m: object_store::ObjectMeta) -> (String, u64, Option<String>, i64) {
    (
        m.location.to_string(),
        m.size,
        m.e_tag,
        m.last_modified.timestamp_nanos_opt().unwrap_or_default(),
    )
}

/// Pointer objects of the warehouse: every table state and the forecast and backtest
/// pointers.
async fn fingerprint(wh: &Warehouse) -> Result<Fingerprint> {
    let store = &wh.loc.store;
    let prefix = wh.loc.key(&format!("{META_DIR}/tables"));
    let mut out: Fingerprint = store
        .list(Some(&prefix))
        .map_ok(identity)
        .try_collect()
        .await
        .map_err(|e| Error::store(wh.loc.display.clone(), e))?;
    for pointer in [
        crate::forecast::store::LATEST,
        crate::forecast::store::LATEST_BACKTEST,
    ] {
        match store.head(&wh.loc.key(pointer)).await {
            Ok(m) => out.push(identity(m)),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(Error::store(wh.loc.display.clone(), e)),
        }
    }
    out.sort();
    Ok(out)
}

/// The hook that refreshes before each statement, first in the hook chain.
pub struct RefreshHook {
    pub refresher: Arc<Refresher>,
}

impl RefreshHook {
    async fn refresh(&self, ctx: &SessionContext) {
        if let Err(e) = self.refresher.ensure_fresh(ctx).await {
            // Serving the previous versions is better than failing every query; the next
            // statement tries again.
            tracing::warn!(error = %e, "could not check the warehouse for new table versions");
        }
    }
}

#[async_trait]
impl QueryHook for RefreshHook {
    async fn handle_simple_query(
        &self,
        _statement: &Statement,
        session_context: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.refresh(session_context).await;
        None
    }

    async fn handle_extended_parse_query(
        &self,
        _statement: &Statement,
        session_context: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        self.refresh(session_context).await;
        None
    }

    async fn handle_extended_query(
        &self,
        _statement: &Statement,
        _logical_plan: &LogicalPlan,
        _params: &ParamValues,
        _session_context: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        None
    }
}
