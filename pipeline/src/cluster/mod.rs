//! Scale-out on an Apache DataFusion Ballista cluster (feature `ballista`, docs/scale.md).
//!
//! The same binary plays every part:
//!
//! * the client: `[engine] url = "ballista://host:port"` (or `--engine`) makes the marts and
//!   `conveyor query` plan in this process and run on the cluster ([`client`]);
//! * `conveyor cluster scheduler` ([`scheduler::run`]) and `conveyor cluster executor`
//!   ([`executor::run`]) wrap Ballista's scheduler and executor library crates.
//!
//! What the mart SQL needs beyond stock DataFusion is registered on both server kinds: the
//! marts' functions ([`crate::marts::functions`]: `exact_percentile`, `sbg_fit`, …) in the
//! scheduler's sessions (it decodes and plans the client's logical plans) and in the
//! executors' function registry (they decode the physical plans), and an object-store
//! registry that opens `s3://`, `gs://` and `az://` warehouses from each process's own
//! environment and `[storage.options]` ([`ClusterStores`]). The session settings — the time
//! zone above all — travel with every job from the client's session, so the executors need
//! no zone of their own.

pub mod executor;
pub mod explain;
pub mod guard;
#[cfg(test)]
mod replay;
pub mod scheduler;
pub mod verify;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::SessionContextExt;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};
use datafusion::prelude::{SessionConfig, SessionContext};
use object_store::ObjectStore;
use url::Url;

use crate::config::Config;
use crate::error::{Error, Result};

/// The port a `ballista://host` URL without one means (Ballista's default).
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

/// Ballista's setting for adaptive query planning (on by default; [`client`] turns it off).
pub const ADAPTIVE_PLANNER: &str = "ballista.planner.adaptive.enabled";

/// A session whose queries run on the Ballista cluster at `url` (`ballista://host:port`),
/// with `session_config` (time zone, catalog), `runtime` (the client's object stores,
/// which it needs to list files while planning) and `settings` (`[engine.settings]`, last).
/// Fails with a clear message when the scheduler cannot be reached.
pub async fn client(
    url: &str,
    session_config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
    settings: &BTreeMap<String, String>,
) -> Result<SessionContext> {
    let (host, port) = host_port(url)?;
    let unreachable = |e: String| Error::Engine {
        url: url.to_string(),
        message: format!(
            "cannot reach the Ballista scheduler at {host}:{port} ({e}); start one with \
             `conveyor cluster scheduler`, or unset [engine] url (--engine \"\") to run \
             in-process"
        ),
    };
    match tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(unreachable(e.to_string())),
        Err(_) => return Err(unreachable("no answer within 10 s".into())),
    }
    let state = SessionStateBuilder::new()
        .with_default_features()
        .with_config(session_config)
        .with_runtime_env(runtime)
        .build();
    let ctx =
        SessionContext::remote_with_state(&format!("ballista://{host}:{port}"), state).await?;
    // After the upgrade to a Ballista session, which replaces the function lists.
    crate::marts::functions::register(&ctx);
    // Ballista 55's adaptive planner re-plans a stage once the stages it reads have run,
    // and on the marts it loses orderings: `nps` (ORDER BY scope = 'overall', month over a
    // UNION) fails its sanity check ("does not satisfy order requirements"), and the failed
    // status update leaves the job waiting forever. The static planner plans each job once
    // on the scheduler, as DataFusion does in-process.
    ctx.state_ref()
        .write()
        .config_mut()
        .options_mut()
        .set(ADAPTIVE_PLANNER, "false")?;
    for (key, value) in settings {
        ctx.state_ref()
            .write()
            .config_mut()
            .options_mut()
            .set(key, value)
            .map_err(|e| {
                crate::config::config_err(&format!("engine.settings.{key}"), e.to_string())
            })?;
    }
    Ok(ctx)
}

/// Every function a plan from a client may name, by name: DataFusion's defaults (as a
/// session with default features has them: nested ones such as `range` and `unnest`'s
/// helpers included), Ballista's, and the marts' ([`crate::marts::functions`]).
pub struct Functions {
    pub scalar: Vec<Arc<ScalarUDF>>,
    pub aggregate: Vec<Arc<AggregateUDF>>,
    pub window: Vec<Arc<WindowUDF>>,
}

pub fn functions() -> Functions {
    let defaults = SessionStateBuilder::new().with_default_features().build();
    let mut scalar: BTreeMap<String, Arc<ScalarUDF>> = defaults
        .scalar_functions()
        .iter()
        .map(|(n, f)| (n.clone(), f.clone()))
        .collect();
    let mut aggregate: BTreeMap<String, Arc<AggregateUDF>> = defaults
        .aggregate_functions()
        .iter()
        .map(|(n, f)| (n.clone(), f.clone()))
        .collect();
    let mut window: BTreeMap<String, Arc<WindowUDF>> = defaults
        .window_functions()
        .iter()
        .map(|(n, f)| (n.clone(), f.clone()))
        .collect();
    for f in ballista_core::extension::ballista_scalar_functions() {
        scalar.insert(f.name().to_string(), f);
    }
    for f in ballista_core::extension::ballista_aggregate_functions() {
        aggregate.insert(f.name().to_string(), f);
    }
    for f in ballista_core::extension::ballista_window_functions() {
        window.insert(f.name().to_string(), f);
    }
    for f in crate::marts::functions::scalar_functions() {
        scalar.insert(f.name().to_string(), Arc::new(f));
    }
    for f in crate::marts::functions::aggregate_functions() {
        aggregate.insert(f.name().to_string(), Arc::new(f));
    }
    Functions {
        scalar: scalar.into_values().collect(),
        aggregate: aggregate.into_values().collect(),
        window: window.into_values().collect(),
    }
}

/// `ballista://host[:port]` → host and port.
pub fn host_port(url: &str) -> Result<(String, u16)> {
    let parsed = Url::parse(url).map_err(|e| bad_url(url, &e.to_string()))?;
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad_url(url, "no host"))?;
    Ok((
        host.to_string(),
        parsed.port().unwrap_or(DEFAULT_SCHEDULER_PORT),
    ))
}

fn bad_url(url: &str, why: &str) -> Error {
    crate::config::config_err(
        "engine.url",
        format!("{url:?}: {why}; expected ballista://host:port"),
    )
}

/// `host:port` → host and port (`--scheduler`).
pub fn parse_host_port(spec: &str, flag: &'static str) -> Result<(String, u16)> {
    let (host, port) = spec
        .rsplit_once(':')
        .ok_or_else(|| Error::usage(flag, format!("{spec:?}: expected host:port")))?;
    let port = port
        .parse()
        .map_err(|_| Error::usage(flag, format!("{spec:?}: {port:?} is not a port")))?;
    if host.is_empty() {
        return Err(Error::usage(flag, format!("{spec:?}: expected host:port")));
    }
    Ok((host.trim_matches(['[', ']']).to_string(), port))
}

/// The object stores of a scheduler or executor: `file://` as usual, and any other store a
/// plan names opened on first use with [`crate::storage::open_location`], that is from the
/// process's environment (`AWS_*`, `GOOGLE_*`, `AZURE_*`) and the `[storage.options]` of
/// its `--config`, exactly as the client opens the warehouse.
#[derive(Debug)]
pub struct ClusterStores {
    inner: DefaultObjectStoreRegistry,
    config: Config,
}

impl ClusterStores {
    pub fn new(config: Config) -> ClusterStores {
        ClusterStores {
            inner: DefaultObjectStoreRegistry::new(),
            config,
        }
    }
}

impl ObjectStoreRegistry for ClusterStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.inner.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        self.inner.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> datafusion::error::Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.inner.get_store(url) {
            return Ok(store);
        }
        if url.scheme() == "memory" {
            return Err(DataFusionError::Configuration(format!(
                "{url}: a memory:// warehouse lives in one process and cannot be read by a \
                 cluster; use file:// on a shared folder or an object store"
            )));
        }
        let base = format!("{}://{}/", url.scheme(), url.host_str().unwrap_or(""));
        let location = crate::storage::open_location(&self.config, &base)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        tracing::info!(store = %location.store_url, "object store opened");
        self.inner
            .register_store(&location.store_url, location.store.clone());
        Ok(location.store)
    }
}
