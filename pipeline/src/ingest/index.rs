//! The key index of an ingested table: for every key (order_id) ever loaded, the hash of
//! its current content, its month partition, and which row holds the current version.
//!
//! It is what makes ingest incremental and idempotent: a row whose key is known with the
//! same content is a duplicate; with different content it replaces the old version (which
//! may sit in another month's partition). Keys are stored as 128-bit hashes, so a slot of
//! the table takes 32 bytes (about 2.2 GB at 50M keys, 0.55 GB at 10M) rather than the ids
//! themselves.

use std::collections::HashMap;
use std::collections::hash_map::Entry as Slot;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::{Array, Int32Array, RecordBatch, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::error::{Error, Result};
use crate::warehouse::parquet_io::{self, WriteOptions};

/// The keys are already uniform hashes; hashing them again would only cost time.
#[derive(Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ *b as u64;
        }
    }
    fn write_u128(&mut self, x: u128) {
        self.0 = (x as u64) ^ ((x >> 64) as u64);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub content: u64,
    pub month: i32,
    /// 0: the row already in the warehouse; otherwise the sequence number of the row of
    /// this run that holds the current version (32 bits keep an entry at 16 bytes).
    pub seq: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    New,
    Duplicate,
    /// Replaces a version that lived in `old_month`.
    Updated {
        old_month: i32,
    },
}

#[derive(Default)]
pub struct KeyIndex {
    map: HashMap<u128, Entry, BuildHasherDefault<PassThrough>>,
}

pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("key_hi", DataType::UInt64, false),
        Field::new("key_lo", DataType::UInt64, false),
        Field::new("content", DataType::UInt64, false),
        Field::new("month", DataType::Int32, false),
    ]))
}

impl KeyIndex {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Records a row of this run and says what it is.
    pub fn observe(&mut self, key: u128, content: u64, month: i32, seq: u32) -> Outcome {
        let entry = Entry {
            content,
            month,
            seq,
        };
        match self.map.entry(key) {
            Slot::Vacant(slot) => {
                slot.insert(entry);
                Outcome::New
            }
            Slot::Occupied(slot) if slot.get().content == content => Outcome::Duplicate,
            Slot::Occupied(mut slot) => {
                let old_month = std::mem::replace(slot.get_mut(), entry).month;
                Outcome::Updated { old_month }
            }
        }
    }

    /// Makes room for `additional` more keys at once, so the table is not rebuilt (and,
    /// while rebuilding, held twice) as it grows.
    pub fn reserve(&mut self, additional: usize) {
        self.map.reserve(additional);
    }

    pub fn get(&self, key: u128) -> Option<&Entry> {
        self.map.get(&key)
    }

    pub fn from_batches(batches: &[RecordBatch]) -> Result<KeyIndex> {
        let mut map = HashMap::with_capacity_and_hasher(
            batches.iter().map(|b| b.num_rows()).sum(),
            BuildHasherDefault::default(),
        );
        for b in batches {
            let col = |i: usize| -> Result<&UInt64Array> {
                b.column(i)
                    .as_any()
                    .downcast_ref::<UInt64Array>()
                    .ok_or_else(|| Error::Other("key index has an unexpected schema".into()))
            };
            let (hi, lo, content) = (col(0)?, col(1)?, col(2)?);
            let month = b
                .column(3)
                .as_any()
                .downcast_ref::<Int32Array>()
                .ok_or_else(|| Error::Other("key index has an unexpected schema".into()))?;
            for r in 0..b.num_rows() {
                let key = ((hi.value(r) as u128) << 64) | lo.value(r) as u128;
                map.insert(
                    key,
                    Entry {
                        content: content.value(r),
                        month: month.value(r),
                        seq: 0,
                    },
                );
            }
        }
        Ok(KeyIndex { map })
    }

    /// The index as a Parquet file, built from batches of `BATCH` entries so that no copy
    /// of the whole index is made on the way.
    pub fn encode(&self, opts: WriteOptions) -> Result<bytes::Bytes> {
        const BATCH: usize = 256 * 1024;
        let mut entries = self.map.iter().peekable();
        let batches = std::iter::from_fn(|| {
            entries.peek()?;
            let (mut hi, mut lo, mut content, mut month) = (
                Vec::with_capacity(BATCH),
                Vec::with_capacity(BATCH),
                Vec::with_capacity(BATCH),
                Vec::with_capacity(BATCH),
            );
            for (k, e) in entries.by_ref().take(BATCH) {
                hi.push((*k >> 64) as u64);
                lo.push(*k as u64);
                content.push(e.content);
                month.push(e.month);
            }
            Some(
                RecordBatch::try_new(
                    schema(),
                    vec![
                        Arc::new(UInt64Array::from(hi)),
                        Arc::new(UInt64Array::from(lo)),
                        Arc::new(UInt64Array::from(content)),
                        Arc::new(Int32Array::from(month)),
                    ],
                )
                .map_err(Error::from),
            )
        });
        let hints = parquet_io::ColumnHints {
            distinct: &[],
            random: &["key_hi", "key_lo", "content"],
        };
        parquet_io::encode_each_with(&schema(), batches, opts, hints)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_duplicate_update() {
        let mut idx = KeyIndex::default();
        assert_eq!(idx.observe(7, 100, 5, 1), Outcome::New);
        assert_eq!(idx.observe(7, 100, 5, 2), Outcome::Duplicate);
        assert_eq!(idx.get(7).unwrap().seq, 1, "a duplicate does not take over");
        assert_eq!(idx.observe(7, 101, 6, 3), Outcome::Updated { old_month: 5 });
        assert_eq!(
            idx.get(7).unwrap(),
            &Entry {
                content: 101,
                month: 6,
                seq: 3
            }
        );
    }

    #[test]
    fn round_trips_through_arrow_as_existing_rows() {
        let mut idx = KeyIndex::default();
        idx.observe(u128::MAX - 3, 1, 2, 9);
        idx.observe(42, 3, 4, 10);
        let bytes = idx.encode(WriteOptions::default()).unwrap();
        let back = KeyIndex::from_batches(&parquet_io::decode(bytes).unwrap()).unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(
            back.get(u128::MAX - 3).unwrap(),
            &Entry {
                content: 1,
                month: 2,
                seq: 0
            }
        );
        assert_eq!(
            back.get(42).unwrap(),
            &Entry {
                content: 3,
                month: 4,
                seq: 0
            }
        );
    }
}
