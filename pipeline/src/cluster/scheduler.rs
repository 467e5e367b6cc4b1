//! `conveyor cluster scheduler`: Ballista's scheduler, with Conveyor's functions and object
//! stores in every session it plans, and a job state that refuses results built from a
//! re-run stage ([`super::guard`]).

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_scheduler::SessionBuilder;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::cluster::memory::{InMemoryClusterState, InMemoryJobState};
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use ballista_scheduler::state::session_manager::share_file_statistics_cache;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::SessionConfig;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};

use super::ClusterStores;
use crate::config::Config;
use crate::error::{Error, Result};

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Where it listens (gRPC for clients and executors); port 0 picks a free port.
    pub bind: SocketAddr,
    /// The host name executors and clients reach it by, when not the bind address.
    pub external_host: Option<String>,
    /// An executor silent (no heartbeat) this long is taken as lost and its tasks are run
    /// elsewhere.
    pub executor_timeout_seconds: u64,
}

/// A session as the scheduler builds it for each client session: Ballista's defaults (its
/// optimizer rules and functions), Conveyor's functions and the cluster's object stores.
fn session_state(
    config: SessionConfig,
    stores: Arc<ClusterStores>,
) -> datafusion::error::Result<datafusion::execution::SessionState> {
    let runtime = RuntimeEnvBuilder::new()
        .with_object_store_registry(stores)
        .build_arc()?;
    let functions = super::functions();
    Ok(SessionStateBuilder::new()
        .with_default_features()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_optimizer_rules(ballista_core::optimizer::ballista_default_optimizer_rules())
        .with_scalar_functions(functions.scalar)
        .with_aggregate_functions(functions.aggregate)
        .with_window_functions(functions.window)
        .build())
}

/// Runs the scheduler until the process is stopped. Prints one line on stdout once it
/// listens, naming the address (scripts and tests wait for it).
pub async fn run(config: &Config, opts: &SchedulerOptions) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(opts.bind)
        .await
        .map_err(|e| Error::io(format!("binding the scheduler to {}", opts.bind), e))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::io("reading the scheduler's address", e))?;
    let stores = Arc::new(ClusterStores::new(config.clone()));
    let session_builder: SessionBuilder =
        Arc::new(move |c: SessionConfig| session_state(c, stores.clone()));
    let scheduler_config = SchedulerConfig {
        bind_host: local.ip().to_string(),
        bind_port: local.port(),
        external_host: opts
            .external_host
            .clone()
            .unwrap_or_else(|| local.ip().to_string()),
        executor_timeout_seconds: opts.executor_timeout_seconds,
        expire_dead_executor_interval_seconds: opts.executor_timeout_seconds.clamp(1, 15),
        no_executors_grace_period_seconds: opts.executor_timeout_seconds,
        override_session_builder: Some(session_builder.clone()),
        ..Default::default()
    };
    scheduler_config
        .validate()
        .map_err(|e| Error::Internal(format!("scheduler configuration: {e}")))?;
    // Ballista's in-memory cluster (as `BallistaCluster::new_from_config` makes it), with
    // the job state guarded.
    let jobs = InMemoryJobState::new(
        scheduler_config.scheduler_id.clone(),
        share_file_statistics_cache(session_builder),
        Arc::new(ballista_core::utils::default_config_producer),
    );
    let cluster = BallistaCluster::new(
        Arc::new(InMemoryClusterState::default()),
        Arc::new(super::guard::Guarded::new(jobs)),
    );
    let scheduler =
        create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, Arc::new(scheduler_config))
            .await
            .map_err(|e| Error::Internal(format!("starting the scheduler: {e}")))?;
    println!(
        "conveyor cluster scheduler: listening on {local} (engine url ballista://{local}; \
         Ballista {}, DataFusion {})",
        ballista_core::BALLISTA_VERSION,
        datafusion::DATAFUSION_VERSION
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    tokio::select! {
        served = start_grpc_service_with_listener(listener, scheduler) => {
            served.map_err(|e| Error::Internal(format!("scheduler: {e}")))
        }
        _ = crate::shutdown::shutdown_signal() => Ok(()),
    }
}
