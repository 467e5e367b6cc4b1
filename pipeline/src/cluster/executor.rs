//! `conveyor cluster executor`: Ballista's executor, with Conveyor's functions in its
//! function registry and the cluster's object stores in every task's runtime.

use std::sync::Arc;

use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::protobuf::{
    RuntimeStatsReport, ShuffleWritePartition, TaskColumnStats, WindowStateReport,
};
use ballista_core::{JobId, RuntimeProducer};
use ballista_executor::execution_engine::{
    DefaultExecutionEngine, ExecutionEngine, QueryStageExecutor,
};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use datafusion::execution::TaskContext;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::prelude::SessionConfig;

use super::ClusterStores;
use crate::config::Config;
use crate::error::{Error, Result};

/// How the executor runs.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler's host and port.
    pub scheduler: (String, u16),
    /// The address the executor's two services listen on.
    pub bind_host: String,
    /// The host name the scheduler and the other executors reach it by, when not the bind
    /// address (a pod's DNS name in Kubernetes).
    pub external_host: Option<String>,
    /// Arrow Flight port (shuffle data and results); 0 picks a free port.
    pub flight_port: u16,
    /// gRPC port (tasks from the scheduler); 0 picks a free port.
    pub grpc_port: u16,
    /// Tasks run at once; 0 = one per core.
    pub concurrent_tasks: usize,
    /// Folder for shuffle files and spills; default: a temporary folder.
    pub work_dir: Option<String>,
    /// Total memory pool in MiB (split between the concurrent tasks); unset: 70 % of the
    /// machine's or container's memory (Ballista's default); 0: unbounded.
    pub memory_limit_mib: Option<u64>,
    /// Seconds between heartbeats to the scheduler.
    pub heartbeat_seconds: u64,
    /// How long to keep trying to reach the scheduler at start (for containers that start
    /// together).
    pub connect_timeout_seconds: u16,
}

/// Ballista's execution engine, except that tasks report no operator metrics to the
/// scheduler.
///
/// Why: Ballista 55's scheduler adds up each stage's operator metrics task by task and
/// rejects a task whose plan reports one operator more or fewer than the first task's
/// (`task metrics array size 8 does not equal with the stage metrics array size 7`),
/// which happens when an operator reports metrics only once it ran. The rejected status
/// update is lost, the scheduler waits for the task forever and the job hangs; several
/// marts hit it on most runs. The metrics only feed the scheduler's plan display and REST
/// API, which `conveyor cluster` does not serve; the results, the partition statistics and
/// the window state the next stage needs are all reported as before.
struct WithoutOperatorMetrics(DefaultExecutionEngine);

impl ExecutionEngine for WithoutOperatorMetrics {
    fn create_query_stage_exec(
        &self,
        job_id: JobId,
        stage_id: usize,
        task_id: usize,
        global_output_partition_ids: Vec<usize>,
        plan: Arc<dyn ExecutionPlan>,
        work_dir: &str,
        config: &SessionConfig,
    ) -> datafusion::error::Result<Arc<dyn QueryStageExecutor>> {
        let inner = self.0.create_query_stage_exec(
            job_id,
            stage_id,
            task_id,
            global_output_partition_ids,
            plan,
            work_dir,
            config,
        )?;
        Ok(Arc::new(StageWithoutMetrics(inner)))
    }
}

#[derive(Debug)]
struct StageWithoutMetrics(Arc<dyn QueryStageExecutor>);

impl std::fmt::Display for StageWithoutMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

#[async_trait::async_trait]
impl QueryStageExecutor for StageWithoutMetrics {
    async fn execute_query_stage(
        &self,
        task_id: usize,
        context: Arc<TaskContext>,
    ) -> datafusion::error::Result<Vec<ShuffleWritePartition>> {
        self.0.execute_query_stage(task_id, context).await
    }

    fn collect_plan_metrics(&self) -> Vec<MetricsSet> {
        Vec::new()
    }

    fn collect_runtime_stats_reports(&self) -> Vec<RuntimeStatsReport> {
        self.0.collect_runtime_stats_reports()
    }

    fn collect_window_state_reports(&self) -> datafusion::error::Result<Vec<WindowStateReport>> {
        self.0.collect_window_state_reports()
    }

    fn collect_column_stats(&self) -> Vec<TaskColumnStats> {
        self.0.collect_column_stats()
    }
}

/// A free TCP port on `host` (bound and released at once).
fn free_port(host: &str) -> Result<u16> {
    let listener = std::net::TcpListener::bind((host, 0))
        .map_err(|e| Error::io(format!("finding a free port on {host}"), e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::io("finding a free port", e))
}

/// Runs the executor until the process is stopped (SIGINT, SIGTERM) or the scheduler asks it
/// to stop. Prints one line on stdout with its ports before it registers.
pub async fn run(config: &Config, opts: &ExecutorOptions) -> Result<()> {
    let stores = Arc::new(ClusterStores::new(config.clone()));
    let mut registry = BallistaFunctionRegistry::default();
    let functions = super::functions();
    for f in functions.scalar {
        registry.scalar_functions.insert(f.name().to_string(), f);
    }
    for f in functions.aggregate {
        registry.aggregate_functions.insert(f.name().to_string(), f);
    }
    for f in functions.window {
        registry.window_functions.insert(f.name().to_string(), f);
    }
    // Kept for the life of the executor: removed (with every shuffle file) on return.
    let temp = match &opts.work_dir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("conveyor-executor-")
                .tempdir()
                .map_err(|e| Error::io("creating the executor's work folder", e))?,
        ),
    };
    let work_dir = match (&opts.work_dir, &temp) {
        (Some(dir), _) => dir.clone(),
        (None, Some(t)) => t.path().to_string_lossy().into_owned(),
        (None, None) => unreachable!("a work folder is made when none is given"),
    };
    let spill_dir = work_dir.clone();
    let runtime_producer: RuntimeProducer = Arc::new(move |_: &SessionConfig| {
        RuntimeEnvBuilder::new()
            .with_temp_file_path(spill_dir.clone())
            .with_object_store_registry(stores.clone())
            .build_arc()
    });
    let flight_port = match opts.flight_port {
        0 => free_port(&opts.bind_host)?,
        p => p,
    };
    let grpc_port = match opts.grpc_port {
        0 => free_port(&opts.bind_host)?,
        p => p,
    };
    let process = ExecutorProcessConfig {
        bind_host: opts.bind_host.clone(),
        external_host: opts.external_host.clone(),
        port: flight_port,
        grpc_port,
        scheduler_host: opts.scheduler.0.clone(),
        scheduler_port: opts.scheduler.1,
        scheduler_connect_timeout_seconds: opts.connect_timeout_seconds,
        vcores: opts.concurrent_tasks,
        work_dir: Some(work_dir.clone()),
        executor_heartbeat_interval_seconds: opts.heartbeat_seconds,
        memory_pool_size: opts.memory_limit_mib.map(|m| m.saturating_mul(1 << 20)),
        override_function_registry: Some(Arc::new(registry)),
        // Without Ballista's pool of shuffle-fetch connections (its type is private to
        // the executor crate): each fetch opens its own, as with its `--client-ttl 0`.
        override_execution_engine: Some(Arc::new(WithoutOperatorMetrics(
            DefaultExecutionEngine::new(),
        ))),
        override_runtime_producer: Some(runtime_producer),
        ..Default::default()
    };
    println!(
        "conveyor cluster executor: flight {}:{flight_port}, grpc {}:{grpc_port}, scheduler {}:{}, work folder {work_dir}",
        opts.bind_host, opts.bind_host, opts.scheduler.0, opts.scheduler.1
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    start_executor_process(Arc::new(process))
        .await
        .map_err(|e| Error::Engine {
            url: format!("ballista://{}:{}", opts.scheduler.0, opts.scheduler.1),
            message: format!("executor: {e}"),
        })?;
    drop(temp);
    Ok(())
}
