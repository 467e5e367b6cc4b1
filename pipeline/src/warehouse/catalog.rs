//! Registering warehouse tables in a DataFusion session, reading exactly the files of each
//! table's committed version, and the session itself: the engine's memory limit and spill
//! folder, the time zone, every committed table.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::datasource::empty::EmptyTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext;

use super::{TableState, Warehouse};
use crate::error::Result;

/// A table to register: its committed state, and its schema when known in advance
/// (ingested datasets; marts are read with the schema stored in their files).
pub struct TableEntry {
    pub name: String,
    pub state: TableState,
    pub file_schema: Option<SchemaRef>,
}

/// Makes the warehouse's store readable by `ctx`.
pub fn register_store(ctx: &SessionContext, wh: &Warehouse) {
    ctx.runtime_env()
        .register_object_store(&wh.loc.store_url, wh.loc.store.clone());
}

/// Registers one table under `entry.name`, replacing any previous registration.
pub async fn register_table(ctx: &SessionContext, wh: &Warehouse, entry: TableEntry) -> Result<()> {
    register_store(ctx, wh);
    // DataFusion caches folder listings for the life of the runtime. A table published
    // during this session (a mart read by the next mart) has files an earlier listing of
    // its folder does not name, so forget the listings before registering.
    if let Some(cache) = ctx.runtime_env().cache_manager.get_list_files_cache() {
        cache.clear();
    }
    let state = &entry.state;
    let partition_cols: Vec<(String, DataType)> = state
        .partition_column
        .iter()
        .map(|c| (c.clone(), DataType::Utf8))
        .collect();
    if state.files.is_empty() {
        if let Some(schema) = &entry.file_schema {
            let mut fields: Vec<_> = schema.fields().iter().cloned().collect();
            for (c, t) in &partition_cols {
                fields.push(Arc::new(datafusion::arrow::datatypes::Field::new(
                    c,
                    t.clone(),
                    false,
                )));
            }
            let full = Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
            ctx.deregister_table(entry.name.as_str())?;
            // An empty table rather than an in-memory one: a plan over it can be sent to a
            // cluster (`[engine] url`), which cannot be sent an in-memory table.
            ctx.register_table(entry.name.as_str(), Arc::new(EmptyTable::new(full)))?;
        }
        return Ok(());
    }
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(format!("-{}.parquet", state.version))
        .with_table_partition_cols(partition_cols);
    let url = ListingTableUrl::parse(wh.loc.url_of(&format!("{}/", state.root)))?;
    let mut config = ListingTableConfig::new(url).with_listing_options(options);
    config = match &entry.file_schema {
        Some(schema) => config.with_schema(schema.clone()),
        None => config.infer_schema(&ctx.state()).await?,
    };
    ctx.deregister_table(entry.name.as_str())?;
    ctx.register_table(
        entry.name.as_str(),
        Arc::new(ListingTable::try_new(config)?),
    )?;
    Ok(())
}

/// Registers every committed table of the warehouse; `schema_of` supplies known file
/// schemas (ingested datasets). Returns the names registered.
pub async fn register_all(
    ctx: &SessionContext,
    wh: &Warehouse,
    schema_of: impl Fn(&str) -> Option<SchemaRef>,
) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for name in wh.tables().await? {
        if let Some(state) = wh.state(&name).await? {
            let file_schema = schema_of(&name);
            if state.files.is_empty() && file_schema.is_none() {
                continue;
            }
            register_table(
                ctx,
                wh,
                TableEntry {
                    name: name.clone(),
                    state,
                    file_schema,
                },
            )
            .await?;
            names.push(name);
        }
    }
    Ok(names)
}

/// The runtime of every session: memory limit and spill folder from `[engine]`.
pub fn runtime(
    engine: &crate::config::EngineConfig,
) -> Result<Arc<datafusion::execution::runtime_env::RuntimeEnv>> {
    use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    let mut builder = RuntimeEnvBuilder::new();
    let limit_mib = engine
        .memory_limit_mib
        .unwrap_or_else(|| machine_memory_bytes().map_or(0, |b| (b / 2) >> 20));
    if limit_mib > 0 {
        use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
        let bytes = usize::try_from(limit_mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
        // A fair pool: every operator that can spill gets an equal share and spills past
        // it. With a greedy pool, the window's sorts took the whole limit while the
        // customer aggregation still ran, and the aggregation failed instead of spilling.
        // The tracking wrapper names the largest consumers when a query does not fit.
        let pool = TrackConsumersPool::new(
            FairSpillPool::new(bytes),
            std::num::NonZeroUsize::new(5).expect("5 > 0"),
        );
        builder = builder.with_memory_pool(Arc::new(pool));
    }
    if let Some(dir) = &engine.spill_dir {
        builder = builder.with_disk_manager_builder(
            DiskManagerBuilder::default()
                .with_mode(DiskManagerMode::Directories(vec![dir.clone()])),
        );
    }
    Ok(builder.build_arc()?)
}

/// The settings of every session: the information schema, the `conveyor.public` schema
/// and the session time zone set to the configured one.
pub fn session_config(
    config: &crate::config::Config,
) -> Result<datafusion::prelude::SessionConfig> {
    let tz = config.time_zone()?;
    let mut session_config = datafusion::prelude::SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema("conveyor", "public");
    session_config.options_mut().execution.time_zone = Some(tz.name().to_string());
    Ok(session_config)
}

/// A DataFusion session over `wh`: every committed table registered (ingested datasets
/// with their known schema, marts and forecasts with the schema in their files) and the
/// session time zone set to the configured one. Returns the session and the names of the
/// tables registered; what the stages add to it (quarantines, the current forecast run) is
/// composed by [`crate::session::open_session`].
pub async fn new_session(
    config: &crate::config::Config,
    wh: &Warehouse,
) -> Result<(SessionContext, Vec<String>)> {
    let ctx = SessionContext::new_with_config_rt(session_config(config)?, runtime(&config.engine)?);
    let names = register_tables(&ctx, config, wh).await?;
    Ok((ctx, names))
}

/// Registers the warehouse in `ctx`, a session made with [`session_config`] (in this
/// process, or a cluster's client): its store, every committed table, and every dataset's
/// table (empty) before its first ingest. Returns the names of the committed tables.
pub async fn register_tables(
    ctx: &SessionContext,
    config: &crate::config::Config,
    wh: &Warehouse,
) -> Result<Vec<String>> {
    let tz = config.time_zone()?;
    let scale = config.money.scale()?;
    register_store(ctx, wh);
    // Every dataset's table exists (empty) before its first ingest, so a query, a mart or a
    // BI tool can name it whether or not the shop exports it.
    for spec in crate::dataset::ALL {
        if wh.state(spec.name).await?.is_some() {
            continue;
        }
        let schema = spec.arrow_schema(tz.name(), scale);
        let mut fields: Vec<_> = schema.fields().iter().cloned().collect();
        if let Some(column) = spec.partition_column() {
            fields.push(Arc::new(datafusion::arrow::datatypes::Field::new(
                column,
                DataType::Utf8,
                false,
            )));
        }
        let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
        ctx.register_table(spec.name, Arc::new(EmptyTable::new(schema)))?;
    }
    register_all(ctx, wh, |name| {
        crate::dataset::by_name(name).map(|spec| spec.arrow_schema(tz.name(), scale))
    })
    .await
}

/// The memory this process may use: the smaller of the physical memory (`/proc/meminfo`)
/// and the cgroup limit of its container (v2 `memory.max`, v1 `memory.limit_in_bytes`);
/// `None` where neither can be read (not Linux).
fn machine_memory_bytes() -> Option<u64> {
    let physical = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
    });
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    .find_map(|v| v.trim().parse::<u64>().ok());
    match (physical, cgroup) {
        (Some(p), Some(c)) => Some(p.min(c)),
        (p, c) => p.or(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::memory_pool::MemoryLimit;

    #[test]
    fn by_default_the_pool_is_half_the_machine() {
        let engine = crate::config::EngineConfig::default();
        let pool = runtime(&engine).unwrap();
        // This test runs on Linux (CI and the dev machines): MemTotal is there.
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
        let total_kib: u64 = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse()
            .unwrap();
        match pool.memory_pool.memory_limit() {
            MemoryLimit::Finite(b) => {
                assert!(
                    b as u64 <= total_kib * 1024 / 2,
                    "{b} > half of {total_kib} KiB"
                );
                assert!(b > 0);
            }
            _ => panic!("expected a finite pool"),
        }
    }

    #[test]
    fn the_engine_memory_limit_bounds_the_pool() {
        let mut engine = crate::config::EngineConfig {
            memory_limit_mib: Some(0),
            ..Default::default()
        };
        let unlimited = runtime(&engine).unwrap();
        assert!(matches!(
            unlimited.memory_pool.memory_limit(),
            MemoryLimit::Infinite
        ));
        engine.memory_limit_mib = Some(3);
        let limited = runtime(&engine).unwrap();
        assert!(matches!(
            limited.memory_pool.memory_limit(),
            MemoryLimit::Finite(b) if b == 3 * 1024 * 1024
        ));
    }
}
