//! Where one ingest run keeps the rows it will write, month by month, until the months are
//! merged and published.
//!
//! Rows come as Arrow batches or as parts already encoded as Parquet ([`super::parts`]).
//! They are held in memory up to a budget (`[ingest] memory_rows`, counting the rows of
//! both); past it, every month's Arrow rows are appended to that month's local spill file
//! (Arrow IPC) and every encoded part is written to a file of its own, in
//! `[engine] spill_dir` or the system temporary folder, so a run over 50M rows holds at
//! most the budget plus one month in memory. Each staged row carries its run sequence
//! number (settling the keys says which sequence number holds a key's current version). The
//! spill folder is deleted when the run ends, whether it commits or fails.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use datafusion::arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;

use super::parts::Runs;
use crate::error::{Error, Result};

/// Name of the sequence-number column appended to staged rows.
const SEQ: &str = "__conveyor_seq";

/// One month's staged rows, handed back for merging.
pub struct MonthRows {
    /// The rows staged as Arrow, in the table's schema.
    pub batches: Vec<RecordBatch>,
    /// Per batch, each row's run sequence number.
    pub seqs: Vec<UInt32Array>,
    /// The parts staged as Parquet, in staging order.
    pub encoded: Vec<Encoded<Bytes>>,
}

/// A part staged as a Parquet file (`data`: its bytes, or where they were spilled).
pub struct Encoded<D> {
    pub data: D,
    pub rows: usize,
    /// The run sequence numbers of its rows.
    pub seqs: Runs,
    /// First and last time when its rows are in time order.
    pub span: Option<(i64, i64)>,
}

impl<D> Encoded<D> {
    /// The same part with its data in another form.
    fn with_data<E>(self, data: E) -> Encoded<E> {
        Encoded {
            data,
            rows: self.rows,
            seqs: self.seqs,
            span: self.span,
        }
    }
}

enum Stored {
    Memory(Bytes),
    File(PathBuf),
}

#[derive(Default)]
struct Month {
    memory: Vec<RecordBatch>,
    spill: Option<(PathBuf, StreamWriter<BufWriter<File>>)>,
    encoded: Vec<Encoded<Stored>>,
}

/// The staged rows of one run.
pub struct Staging {
    schema: SchemaRef,
    months: BTreeMap<i32, Month>,
    memory_rows: usize,
    budget_rows: usize,
    spill_root: Option<PathBuf>,
    dir: Option<tempfile::TempDir>,
    spilled_rows: u64,
}

impl Staging {
    /// Rows in `table_schema`; at most `budget_rows` of them held in memory; spill files go
    /// under `spill_root` (default: the system temporary folder).
    pub fn new(table_schema: &SchemaRef, budget_rows: usize, spill_root: Option<&Path>) -> Self {
        let mut fields: Vec<Field> = table_schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.push(Field::new(SEQ, DataType::UInt32, false));
        Staging {
            schema: Arc::new(Schema::new(fields)),
            months: BTreeMap::new(),
            memory_rows: 0,
            budget_rows: budget_rows.max(1),
            spill_root: spill_root.map(Path::to_path_buf),
            dir: None,
            spilled_rows: 0,
        }
    }

    /// Rows written to spill files so far.
    pub fn spilled_rows(&self) -> u64 {
        self.spilled_rows
    }

    /// Stages `batch` (table schema) for `month`, its rows numbered `seqs`.
    pub fn push(&mut self, month: i32, batch: RecordBatch, seqs: Vec<u32>) -> Result<()> {
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        columns.push(Arc::new(UInt32Array::from(seqs)));
        let staged = RecordBatch::try_new(self.schema.clone(), columns)?;
        self.memory_rows += staged.num_rows();
        self.months.entry(month).or_default().memory.push(staged);
        if self.memory_rows > self.budget_rows {
            self.spill_all()?;
        }
        Ok(())
    }

    /// Stages a part encoded as Parquet for `month`.
    pub fn push_encoded(&mut self, month: i32, part: Encoded<Bytes>) -> Result<()> {
        self.memory_rows += part.rows;
        let data = Stored::Memory(part.data.clone());
        let part = part.with_data(data);
        self.months.entry(month).or_default().encoded.push(part);
        if self.memory_rows > self.budget_rows {
            self.spill_all()?;
        }
        Ok(())
    }

    /// Moves every month's in-memory rows to its spill files.
    fn spill_all(&mut self) -> Result<()> {
        if self.dir.is_none() {
            let dir = match &self.spill_root {
                Some(root) => {
                    std::fs::create_dir_all(root).map_err(|e| io_error(root, e))?;
                    tempfile::Builder::new()
                        .prefix("conveyor-ingest-")
                        .tempdir_in(root)
                }
                None => tempfile::Builder::new()
                    .prefix("conveyor-ingest-")
                    .tempdir(),
            }
            .map_err(|e| Error::io("cannot create a spill folder for ingest", e))?;
            tracing::info!(dir = %dir.path().display(), "ingest: staging rows on disk");
            self.dir = Some(dir);
        }
        let dir = self
            .dir
            .as_ref()
            .expect("created above")
            .path()
            .to_path_buf();
        for (m, month) in &mut self.months {
            for (k, part) in month.encoded.iter_mut().enumerate() {
                if let Stored::Memory(bytes) = &part.data {
                    let path = dir.join(format!("month-{m}-part-{k}.parquet"));
                    std::fs::write(&path, bytes).map_err(|e| io_error(&path, e))?;
                    self.spilled_rows += part.rows as u64;
                    part.data = Stored::File(path);
                }
            }
            if month.memory.is_empty() {
                continue;
            }
            if month.spill.is_none() {
                let path = dir.join(format!("month-{m}.arrows"));
                let file = File::create(&path).map_err(|e| io_error(&path, e))?;
                let writer = StreamWriter::try_new(BufWriter::new(file), &self.schema)?;
                month.spill = Some((path, writer));
            }
            let (_, writer) = month.spill.as_mut().expect("opened above");
            for b in month.memory.drain(..) {
                self.spilled_rows += b.num_rows() as u64;
                writer.write(&b)?;
            }
        }
        self.memory_rows = 0;
        Ok(())
    }

    /// Takes every row staged for `month` (spilled ones first, in staging order).
    pub fn take(&mut self, month: i32) -> Result<MonthRows> {
        let Some(staged) = self.months.remove(&month) else {
            return Ok(MonthRows {
                batches: vec![],
                seqs: vec![],
                encoded: vec![],
            });
        };
        let mut encoded = Vec::with_capacity(staged.encoded.len());
        for part in staged.encoded {
            let data = match &part.data {
                Stored::Memory(bytes) => {
                    self.memory_rows -= part.rows;
                    bytes.clone()
                }
                Stored::File(path) => {
                    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
                    std::fs::remove_file(path).map_err(|e| io_error(path, e))?;
                    Bytes::from(bytes)
                }
            };
            encoded.push(part.with_data(data));
        }
        let mut all = Vec::new();
        if let Some((path, mut writer)) = staged.spill {
            writer.finish()?;
            drop(writer);
            let file = File::open(&path).map_err(|e| io_error(&path, e))?;
            for b in StreamReader::try_new(BufReader::new(file), None)? {
                all.push(b?);
            }
            std::fs::remove_file(&path).map_err(|e| io_error(&path, e))?;
        }
        self.memory_rows -= staged.memory.iter().map(|b| b.num_rows()).sum::<usize>();
        all.extend(staged.memory);
        let n = self.schema.fields().len() - 1;
        let mut out = MonthRows {
            batches: Vec::with_capacity(all.len()),
            seqs: Vec::with_capacity(all.len()),
            encoded,
        };
        for b in all {
            let seqs = b
                .column(n)
                .as_any()
                .downcast_ref::<UInt32Array>()
                .ok_or_else(|| Error::Internal("staged rows lost their sequence numbers".into()))?
                .clone();
            out.batches.push(b.project(&(0..n).collect::<Vec<_>>())?);
            out.seqs.push(seqs);
        }
        Ok(out)
    }
}

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::io(format!("ingest spill file {}", path.display()), e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};

    fn batch(schema: &SchemaRef, ids: &[&str], amounts: &[i64]) -> RecordBatch {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(ids.to_vec())),
                Arc::new(Int64Array::from(amounts.to_vec())),
            ],
        )
        .unwrap()
    }

    fn rows(m: &MonthRows) -> Vec<(String, i64, u32)> {
        let mut out = Vec::new();
        for (b, s) in m.batches.iter().zip(&m.seqs) {
            let ids = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
            let am = b.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
            for r in 0..b.num_rows() {
                out.push((ids.value(r).to_string(), am.value(r), s.value(r)));
            }
        }
        out
    }

    #[test]
    fn rows_come_back_per_month_in_order_whether_spilled_or_not() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("amount", DataType::Int64, false),
        ]));
        let root = tempfile::tempdir().unwrap();
        // A budget of 3 rows: the second push of month 5 spills both months.
        let mut st = Staging::new(&schema, 3, Some(root.path()));
        st.push(5, batch(&schema, &["a", "b"], &[1, 2]), vec![1, 2])
            .unwrap();
        st.push(7, batch(&schema, &["c"], &[3]), vec![3]).unwrap();
        assert_eq!(st.spilled_rows(), 0);
        st.push(5, batch(&schema, &["d"], &[4]), vec![4]).unwrap();
        assert_eq!(st.spilled_rows(), 4);
        st.push(5, batch(&schema, &["e"], &[5]), vec![9]).unwrap();

        let five = st.take(5).unwrap();
        assert_eq!(
            five.batches[0].schema(),
            schema,
            "the table schema, without seq"
        );
        assert_eq!(
            rows(&five),
            vec![
                ("a".into(), 1, 1),
                ("b".into(), 2, 2),
                ("d".into(), 4, 4),
                ("e".into(), 5, 9)
            ]
        );
        assert_eq!(rows(&st.take(7).unwrap()), vec![("c".into(), 3, 3)]);
        assert!(st.take(8).unwrap().batches.is_empty());
        let spill_dirs: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(spill_dirs.len(), 1);
        drop(st);
        assert_eq!(
            std::fs::read_dir(root.path()).unwrap().count(),
            0,
            "the spill folder is removed with the staging"
        );
    }
}
