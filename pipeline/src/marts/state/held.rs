//! A state table held in this process's memory and counted in the session's memory pool
//! (`[engine] memory_limit_mib`), so the marts' sorts and aggregations, which share that
//! pool, spill sooner instead of the process outgrowing the limit by the state's size. The
//! memory is given back to the pool when the table is dropped
//! ([`super::deregister`] after its last reader).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{Constraints, Statistics};
use datafusion::datasource::{MemTable, TableType};
use datafusion::error::Result;
use datafusion::execution::context::SessionContext;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

/// An in-memory table with a reservation for its batches.
#[derive(Debug)]
pub struct HeldTable {
    table: MemTable,
    _reservation: MemoryReservation,
}

impl HeldTable {
    /// The table `name` over `partitions`, its batches' memory reserved in `ctx`'s pool
    /// (counted even past the pool's limit: the memory is already in use).
    pub fn new(
        ctx: &SessionContext,
        name: &str,
        schema: SchemaRef,
        partitions: Vec<Vec<RecordBatch>>,
    ) -> Result<Self> {
        let bytes = partitions
            .iter()
            .flatten()
            .map(RecordBatch::get_array_memory_size)
            .sum();
        let reservation = MemoryConsumer::new(format!("customer state: {name}"))
            .register(&ctx.runtime_env().memory_pool);
        reservation.grow(bytes);
        Ok(HeldTable {
            table: MemTable::try_new(schema, partitions)?,
            _reservation: reservation,
        })
    }
}

#[async_trait]
impl TableProvider for HeldTable {
    fn schema(&self) -> SchemaRef {
        self.table.schema()
    }

    fn constraints(&self) -> Option<&Constraints> {
        self.table.constraints()
    }

    fn table_type(&self) -> TableType {
        self.table.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.table.scan(state, projection, filters, limit).await
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.table.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<Statistics> {
        self.table.statistics()
    }
}
