//! Ballista 55's own scheduler state driven by hand, for tests: the public
//! `StaticExecutionGraph` of a small aggregation, tasks bound the way the scheduler binds
//! them (one partition each, a fresh task slot per task), finished with the statuses an
//! executor sends, and an executor lost at a chosen moment. Nothing here is Conveyor's:
//! it reproduces what the scheduler does, so that [`super::verify`] and [`super::guard`]
//! are tested against the real state machine rather than lists written by hand.

use std::sync::Arc;

use ballista_core::extension::SessionConfigExt;
use ballista_core::serde::protobuf::{
    ShuffleWritePartition, SuccessfulTask, TaskStatus, task_status,
};
use ballista_core::serde::scheduler::{
    ExecutorMetadata, ExecutorOperatingSystemSpecification, ExecutorSpecification,
};
use ballista_scheduler::planner::DefaultDistributedPlanner;
use ballista_scheduler::state::execution_graph::{
    ExecutionGraph, StaticExecutionGraph, create_task_info,
};
use ballista_scheduler::state::execution_stage::ExecutionStage;
use datafusion::arrow::array::Int64Array;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::{SessionConfig, SessionContext};

/// The job id of every replayed graph.
pub const JOB: &str = "job";

/// Two stages: a map stage shuffling by `k`, then the final aggregation.
pub const TWO_STAGES: &str = "SELECT k, count(*) AS n FROM t GROUP BY k";

/// Three stages: the map stage, a middle stage counting per key and shuffling by count,
/// then the final aggregation.
pub const THREE_STAGES: &str =
    "SELECT n, count(*) AS c FROM (SELECT k, count(*) AS n FROM t GROUP BY k) GROUP BY n";

pub fn executor(id: &str) -> ExecutorMetadata {
    ExecutorMetadata {
        id: id.into(),
        host: format!("{id}.local"),
        port: 50051,
        grpc_port: 50052,
        specification: ExecutorSpecification::default(),
        os_info: ExecutorOperatingSystemSpecification::default(),
    }
}

/// The job graph of `sql` over `t(k)` in two input partitions, as the scheduler builds it.
pub async fn graph_of(sql: &str) -> StaticExecutionGraph {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
    let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, false)]));
    let batch = |keys: Vec<i64>| {
        RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(keys))]).unwrap()
    };
    let table = MemTable::try_new(
        schema.clone(),
        vec![vec![batch(vec![1, 2, 3])], vec![batch(vec![3, 4])]],
    )
    .unwrap();
    ctx.register_table("t", Arc::new(table)).unwrap();
    let plan = ctx
        .sql(sql)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    StaticExecutionGraph::new(
        "scheduler",
        &JOB.into(),
        "",
        "session",
        plan,
        0,
        Arc::new(SessionConfig::new_with_ballista()),
        &mut DefaultDistributedPlanner::new(),
        None,
    )
    .unwrap()
}

/// The id of the job's final stage (the one whose output is the result).
pub fn final_stage(graph: &StaticExecutionGraph) -> usize {
    let finals: Vec<usize> = graph
        .stages()
        .iter()
        .filter(|(_, stage)| stage.output_links().is_empty())
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(finals.len(), 1, "one final stage");
    finals[0]
}

/// A task bound to an executor and not yet finished.
pub struct Bound {
    pub stage_id: usize,
    pub attempt: usize,
    pub task_id: usize,
    pub partition: usize,
    pub final_stage: bool,
}

/// Binds the next available partition to `on`, as the scheduler's bind does: the next
/// pending partition of a running stage (resolving stages as needed), in a new task slot.
pub fn bind(graph: &mut StaticExecutionGraph, on: &ExecutorMetadata) -> Option<Bound> {
    let stage = graph.fetch_running_stage(&[])?;
    let partitions = stage.pending.next_slice(1);
    let task_id = stage.task_infos.len();
    let mut info = create_task_info(on.id.clone(), task_id);
    info.global_input_partition_ids = partitions.clone();
    info.vcores_consumed = 1;
    stage.task_infos.push(info);
    Some(Bound {
        stage_id: stage.stage_id,
        attempt: stage.stage_attempt_num,
        task_id,
        partition: partitions[0],
        final_stage: stage.output_links.is_empty(),
    })
}

/// Reports `task` finished on `on`: a shuffling task wrote both output partitions, a
/// final task its own partition.
pub fn finish(graph: &mut StaticExecutionGraph, on: &ExecutorMetadata, task: Bound) {
    let outputs = if task.final_stage {
        vec![task.partition as u64]
    } else {
        vec![0, 1]
    };
    let status = TaskStatus {
        task_id: task.task_id as u32,
        job_id: JOB.into(),
        stage_id: task.stage_id as u32,
        stage_attempt_num: task.attempt as u32,
        status: Some(task_status::Status::Successful(SuccessfulTask {
            executor_id: on.id.clone(),
            partitions: outputs
                .into_iter()
                .map(|partition_id| ShuffleWritePartition {
                    partition_id,
                    num_batches: 1,
                    num_rows: 1,
                    num_bytes: 1,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })),
        ..Default::default()
    };
    graph.update_task_status(on, vec![status], 4, 4).unwrap();
}

/// Binds and finishes every task on `on` until the job is done; returns, for each final
/// task, how many times a (map task, partition) of its inputs was listed more than once.
pub fn run_to_the_end(graph: &mut StaticExecutionGraph, on: &ExecutorMetadata) -> usize {
    let mut repeated_inputs = 0;
    while let Some(task) = bind(graph, on) {
        if task.final_stage
            && let Some(ExecutionStage::Running(stage)) = graph.stages().get(&task.stage_id)
        {
            for output in stage.inputs.values() {
                for locations in output.partition_locations.values() {
                    let mut seen = std::collections::HashSet::new();
                    for l in locations {
                        if !seen.insert((l.map_partition_id, l.partition_id.partition_id)) {
                            repeated_inputs += 1;
                        }
                    }
                }
            }
        }
        finish(graph, on, task);
    }
    assert!(graph.is_successful(), "the job finished");
    repeated_inputs
}

/// The map tasks, one on each executor, then the first task of the next stage on e2,
/// finished: `(e1, e2)`.
pub fn up_to_the_first_task_after_the_map(
    graph: &mut StaticExecutionGraph,
) -> (ExecutorMetadata, ExecutorMetadata) {
    let (e1, e2) = (executor("e1"), executor("e2"));
    graph.revive();
    let map_on_e1 = bind(graph, &e1).unwrap();
    let map_on_e2 = bind(graph, &e2).unwrap();
    assert_eq!(map_on_e1.stage_id, map_on_e2.stage_id, "both map tasks");
    finish(graph, &e1, map_on_e1);
    finish(graph, &e2, map_on_e2);
    let next = bind(graph, &e2).unwrap();
    assert_eq!(next.partition, 0);
    finish(graph, &e2, next);
    (e1, e2)
}

/// A job of `sql` in which e1, holding half of the map stage's output, is lost once the
/// stage after the map has finished its partition 0 and is running partition 1 on e2;
/// Ballista re-runs e1's map task and the whole stage after it, all on e2. Returns the
/// finished graph and how many final-stage inputs were listed twice.
pub async fn lost_after_the_first_task_past_the_map(sql: &str) -> (StaticExecutionGraph, usize) {
    let mut graph = graph_of(sql).await;
    let (_, e2) = up_to_the_first_task_after_the_map(&mut graph);
    let running = bind(&mut graph, &e2).unwrap();
    assert_eq!(running.partition, 1);
    let (reset, _) = graph.reset_stages_on_lost_executor("e1").unwrap();
    assert!(
        reset.contains(&running.stage_id),
        "the stage reading e1's output is rolled back: {reset:?}"
    );
    let repeated_inputs = run_to_the_end(&mut graph, &e2);
    (graph, repeated_inputs)
}

/// The same job with nothing lost.
pub async fn healthy(sql: &str) -> StaticExecutionGraph {
    let mut graph = graph_of(sql).await;
    let (_, e2) = up_to_the_first_task_after_the_map(&mut graph);
    assert_eq!(run_to_the_end(&mut graph, &e2), 0);
    graph
}
