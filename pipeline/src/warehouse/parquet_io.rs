//! Reading and writing Parquet objects, whole in memory or streamed to the store: zstd,
//! row groups of a configured size, statistics on, so DuckDB, Polars, pandas and
//! DataFusion prune row groups.
//!
//! **Streamed writes encode in parallel.** [`write_stream`] cuts the batches into row
//! groups and encodes each row group's columns on the rayon pool (one column chunk per
//! task), while the next row group is gathered from the stream; the chunks are appended
//! in order, so the file's bytes do not depend on the thread count. A mart of millions of
//! customers spent most of its time in one thread's zstd and encoding before.

use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::arrow::arrow_writer::{
    ArrowColumnChunk, ArrowLeafColumn, ArrowRowGroupWriterFactory, compute_leaves,
};
use datafusion::parquet::basic::{Compression, Encoding, ZstdLevel};
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::parquet::file::writer::SerializedFileWriter;
use datafusion::parquet::schema::types::ColumnPath;
use futures::StreamExt;
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use rayon::prelude::*;
use tokio::io::AsyncWriteExt;

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
/// is large), holding about two row groups in memory: the one being encoded (its columns
/// in parallel) and the one being gathered. Returns the rows written. On error the upload
/// is abandoned; the caller's publish step never names the object, and the next run
/// sweeps it.
pub async fn write_stream(
    store: Arc<dyn ObjectStore>,
    key: ObjectPath,
    schema: &SchemaRef,
    mut batches: SendableRecordBatchStream,
    opts: WriteOptions,
    hints: ColumnHints<'_>,
) -> Result<u64> {
    let mut sink = object_store::buffered::BufWriter::new(store, key);
    // ArrowWriter sets the file up (magic, the Arrow schema in the footer's metadata);
    // the row groups are then encoded here and appended to its file writer.
    let (mut file, factory) =
        ArrowWriter::try_new(Vec::new(), schema.clone(), Some(properties(opts, hints)?))?
            .into_serialized_writer()?;
    let factory = Arc::new(factory);
    let group_rows = opts.row_group_rows.max(1);
    let mut gathered: Vec<RecordBatch> = Vec::new();
    let (mut gathered_rows, mut rows, mut groups) = (0usize, 0u64, 0usize);
    let mut encoding: Option<tokio::task::JoinHandle<Result<Vec<ArrowColumnChunk>>>> = None;
    let mut done = false;
    while !done {
        match batches.next().await {
            Some(batch) => {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                gathered_rows += batch.num_rows();
                gathered.push(batch);
            }
            None => done = true,
        }
        // Full row groups (and, at the end, the rest) go to the encoder one at a time.
        while gathered_rows >= group_rows || (done && gathered_rows > 0) {
            let take = gathered_rows.min(group_rows);
            let group = split_off_rows(&mut gathered, take);
            gathered_rows -= take;
            if let Some(previous) = encoding.take() {
                append(&mut file, &mut sink, previous).await?;
            }
            let (factory, schema, index) = (factory.clone(), schema.clone(), groups);
            encoding = Some(tokio::task::spawn_blocking(move || {
                encode_group(&factory, &schema, &group, index)
            }));
            groups += 1;
        }
    }
    if let Some(previous) = encoding.take() {
        append(&mut file, &mut sink, previous).await?;
    }
    let tail = file.into_inner()?;
    sink.write_all(&tail).await.map_err(ParquetError::from)?;
    sink.shutdown().await.map_err(ParquetError::from)?;
    Ok(rows)
}

/// The first `rows` rows of `batches` (removed from it) as batches of their own.
fn split_off_rows(batches: &mut Vec<RecordBatch>, rows: usize) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut left = rows;
    while left > 0 && !batches.is_empty() {
        let n = batches[0].num_rows();
        if n <= left {
            out.push(batches.remove(0));
            left -= n;
        } else {
            out.push(batches[0].slice(0, left));
            batches[0] = batches[0].slice(left, n - left);
            left = 0;
        }
    }
    out
}

/// Encodes one row group: every column chunk on its own rayon task. Nested columns have
/// several leaves; each leaf has its writer, in the factory's order.
fn encode_group(
    factory: &ArrowRowGroupWriterFactory,
    schema: &SchemaRef,
    group: &[RecordBatch],
    index: usize,
) -> Result<Vec<ArrowColumnChunk>> {
    let writers = factory.create_column_writers(index)?;
    let mut leaves: Vec<Vec<ArrowLeafColumn>> = writers.iter().map(|_| Vec::new()).collect();
    for batch in group {
        let mut slot = 0;
        for (field, column) in schema.fields().iter().zip(batch.columns()) {
            for leaf in compute_leaves(field, column)? {
                leaves
                    .get_mut(slot)
                    .ok_or_else(|| ParquetError::General("more leaves than column writers".into()))?
                    .push(leaf);
                slot += 1;
            }
        }
    }
    let chunks = writers
        .into_par_iter()
        .zip(leaves)
        .map(|(mut writer, leaves)| {
            for leaf in &leaves {
                writer.write(leaf)?;
            }
            writer.close()
        })
        .collect::<std::result::Result<Vec<_>, ParquetError>>()?;
    Ok(chunks)
}

/// Waits for an encoded row group, appends it to `file` and moves the bytes written so far
/// to the store.
async fn append(
    file: &mut SerializedFileWriter<Vec<u8>>,
    sink: &mut object_store::buffered::BufWriter,
    encoded: tokio::task::JoinHandle<Result<Vec<ArrowColumnChunk>>>,
) -> Result<()> {
    let chunks = encoded
        .await
        .map_err(|e| ParquetError::External(Box::new(e)))??;
    let mut row_group = file.next_row_group()?;
    for chunk in chunks {
        chunk.append_to_row_group(&mut row_group)?;
    }
    row_group.close()?;
    file.flush().map_err(ParquetError::from)?;
    let bytes = std::mem::take(file.inner_mut());
    sink.write_all(&bytes).await.map_err(ParquetError::from)?;
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{
        Array, ArrayRef, Int64Array, ListArray, StringArray, TimestampMicrosecondArray,
    };
    use datafusion::arrow::compute::concat_batches;
    use datafusion::arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
    use object_store::ObjectStoreExt;
    use object_store::memory::InMemory;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("n", DataType::Int64, true),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("Asia/Tokyo".into())),
                false,
            ),
            Field::new(
                "tags",
                DataType::List(Arc::new(Field::new("item", DataType::Int32, true))),
                true,
            ),
        ]))
    }

    /// Rows `from..to`: every value a function of the row number, some NULLs.
    fn batch(from: i64, to: i64) -> RecordBatch {
        let rows = from..to;
        let id: ArrayRef = Arc::new(StringArray::from_iter_values(
            rows.clone().map(|i| format!("c{i}")),
        ));
        let n: ArrayRef = Arc::new(Int64Array::from_iter(
            rows.clone().map(|i| (i % 7 != 0).then_some(i * 3)),
        ));
        let at: ArrayRef = Arc::new(
            TimestampMicrosecondArray::from_iter_values(rows.clone().map(|i| i * 1_000_000))
                .with_timezone("Asia/Tokyo"),
        );
        let tags: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(rows.map(
            |i| (i % 5 != 0).then(|| (0..i % 3).map(|j| Some(j as i32)).collect::<Vec<_>>()),
        )));
        RecordBatch::try_new(schema(), vec![id, n, at, tags]).unwrap()
    }

    #[tokio::test]
    async fn streamed_row_groups_hold_every_row_in_order() {
        // 3,510 rows in uneven batches (one empty) with row groups of 1,000: groups of
        // 1,000, 1,000, 1,000 and 510, the batches cut across group boundaries.
        let cuts = [0, 300, 1000, 1000, 3500, 3510];
        let batches: Vec<RecordBatch> = cuts.windows(2).map(|w| batch(w[0], w[1])).collect();
        let stream = futures::stream::iter(batches.clone().into_iter().map(Ok));
        let stream = Box::pin(RecordBatchStreamAdapter::new(schema(), stream));
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let key = ObjectPath::from("t/part-0.parquet");
        let opts = WriteOptions {
            row_group_rows: 1000,
            zstd_level: 3,
        };
        let rows = write_stream(
            store.clone(),
            key.clone(),
            &schema(),
            stream,
            opts,
            ColumnHints::default(),
        )
        .await
        .unwrap();
        assert_eq!(rows, 3510);

        let bytes = store.get(&key).await.unwrap().bytes().await.unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes.clone()).unwrap();
        let groups: Vec<i64> = reader
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows())
            .collect();
        assert_eq!(groups, vec![1000, 1000, 1000, 510]);
        // The Arrow schema (the zone of `at`, the list) comes back as written.
        assert_eq!(reader.schema().as_ref(), schema().as_ref());
        let got = concat_batches(&schema(), &decode(bytes).unwrap()).unwrap();
        let want = batch(0, 3510);
        assert_eq!(got, want);
        assert_eq!(got.column(1).null_count(), 3510 / 7 + 1);
    }

    #[tokio::test]
    async fn an_empty_stream_writes_a_readable_file_with_the_schema() {
        let stream = futures::stream::iter(Vec::<datafusion::error::Result<RecordBatch>>::new());
        let stream = Box::pin(RecordBatchStreamAdapter::new(schema(), stream));
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let key = ObjectPath::from("empty.parquet");
        let rows = write_stream(
            store.clone(),
            key.clone(),
            &schema(),
            stream,
            WriteOptions::default(),
            ColumnHints::default(),
        )
        .await
        .unwrap();
        assert_eq!(rows, 0);
        let bytes = store.get(&key).await.unwrap().bytes().await.unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 0);
        assert_eq!(reader.schema().as_ref(), schema().as_ref());
    }
}
