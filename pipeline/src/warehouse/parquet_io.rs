//! Reading and writing Parquet objects, whole in memory or streamed to the store: zstd,
//! row groups of a configured size, statistics on, so DuckDB, Polars, pandas and
//! DataFusion prune row groups.

use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::AsyncArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::{Compression, Encoding, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::parquet::schema::types::ColumnPath;
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;

use crate::error::Result;

#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    pub row_group_rows: usize,
    pub zstd_level: i32,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            row_group_rows: 256 * 1024,
            zstd_level: 3,
        }
    }
}

/// Columns that need another layout than the default (dictionary pages, zstd).
#[derive(Debug, Clone, Copy, Default)]
pub struct ColumnHints<'a> {
    /// Mostly distinct values (ids, line numbers): no dictionary, which the writer would
    /// build for every page only to give it up once it outgrows its size limit.
    pub distinct: &'a [&'a str],
    /// Random bits (hashes): no dictionary and no compression, which cannot shrink them.
    pub random: &'a [&'a str],
    /// Integers that mostly ascend (sorted times, line numbers): delta encoding
    /// (`DELTA_BINARY_PACKED`, read by every Parquet engine), no dictionary.
    pub delta: &'a [&'a str],
}

/// Encodes batches as one Parquet file in memory.
pub fn encode(schema: &SchemaRef, batches: &[RecordBatch], opts: WriteOptions) -> Result<Bytes> {
    encode_each(schema, batches.iter().cloned().map(Ok), opts)
}

/// Encodes batches produced one at a time (so only one is alive at once) as one Parquet
/// file in memory.
pub fn encode_each(
    schema: &SchemaRef,
    batches: impl IntoIterator<Item = Result<RecordBatch>>,
    opts: WriteOptions,
) -> Result<Bytes> {
    encode_each_with(schema, batches, opts, ColumnHints::default())
}

/// [`encode_each`] with some columns laid out as `hints` say.
pub fn encode_each_with(
    schema: &SchemaRef,
    batches: impl IntoIterator<Item = Result<RecordBatch>>,
    opts: WriteOptions,
    hints: ColumnHints<'_>,
) -> Result<Bytes> {
    let props = properties(opts, hints)?;
    let mut writer = ArrowWriter::try_new(Vec::new(), schema.clone(), Some(props))?;
    for b in batches {
        writer.write(&b?)?;
    }
    Ok(Bytes::from(writer.into_inner()?))
}

/// Streams `batches` into one Parquet object `key` of `store` (a multipart upload once it
/// is large), holding about one row group in memory. Returns the rows written. On error
/// the upload is abandoned; the caller's publish step never names the object, and the next
/// run sweeps it.
pub async fn write_stream(
    store: Arc<dyn ObjectStore>,
    key: ObjectPath,
    schema: &SchemaRef,
    mut batches: SendableRecordBatchStream,
    opts: WriteOptions,
    hints: ColumnHints<'_>,
) -> Result<u64> {
    let sink = object_store::buffered::BufWriter::new(store, key);
    let mut writer =
        AsyncArrowWriter::try_new(sink, schema.clone(), Some(properties(opts, hints)?))?;
    let mut rows = 0u64;
    while let Some(batch) = batches.next().await {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        writer.write(&batch).await?;
    }
    writer.close().await?;
    Ok(rows)
}

fn properties(opts: WriteOptions, hints: ColumnHints<'_>) -> Result<WriterProperties> {
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(opts.zstd_level)?))
        .set_max_row_group_row_count(Some(opts.row_group_rows.max(1)));
    for c in hints.distinct.iter().chain(hints.random).chain(hints.delta) {
        props = props.set_column_dictionary_enabled(ColumnPath::from(*c), false);
    }
    for c in hints.delta {
        props = props.set_column_encoding(ColumnPath::from(*c), Encoding::DELTA_BINARY_PACKED);
    }
    for c in hints.random {
        props = props.set_column_compression(ColumnPath::from(*c), Compression::UNCOMPRESSED);
    }
    Ok(props.build())
}

/// Decodes a whole Parquet file held in memory.
pub fn decode(bytes: Bytes) -> Result<Vec<RecordBatch>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)?
        .with_batch_size(64 * 1024)
        .build()?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}
