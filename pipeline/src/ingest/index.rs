//! The key index of an ingested table: for every key (order_id) ever loaded, the hash of
//! its current content and its month partition, kept as a list sorted by key.
//!
//! It is what makes ingest incremental and idempotent. A run does not look its keys up one
//! row at a time, which would be a random memory access per row on one thread. It notes
//! every valid row as a [`Version`] (key, content, month, and the row's sequence number in
//! the run), into one of [`RunRows`]' buckets by the top bits of its key, and
//! [`resolve`]s them all at once after reading: each bucket is sorted by key and sequence
//! number (small sorts that stay in cache, on all cores), then the buckets are walked in
//! order beside the stored index. Per key, in sequence order, a row whose key is unknown
//! is new; a row with the current content is a duplicate; a row with other content
//! replaces the current version, which may sit in another month's partition or be an
//! earlier row of this run.
//!
//! When the rows of one object must not disagree (orders at order grain), a key whose
//! rows in one object differ in content is a conflict: every such row is set aside
//! (quarantined by [`super::write`], naming the other line) and the key keeps the version
//! it had before that object, as if the object did not hold it.
//!
//! Keys are stored as 128-bit hashes (an entry takes 32 bytes: 0.35 GB at 10.9M keys)
//! rather than the ids themselves.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::{Array, Int32Array, RecordBatch, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::warehouse::parquet_io;

/// A version of a key: the hash of its content, its month, and the sequence number of the
/// row of this run that holds it (0 for a version stored before the run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub key: u128,
    pub content: u64,
    pub month: i32,
    pub seq: u32,
}

/// This run's rows, in buckets by the top [`BUCKET_BITS`] bits of their key: bucket `b`
/// holds keys below those of bucket `b + 1`, so the buckets sorted one by one and read
/// one after the other are in key order.
pub struct RunRows {
    buckets: Vec<Vec<Version>>,
}

/// 1,024 buckets: about 10,000 rows (320 KB) each at 10M rows.
pub const BUCKET_BITS: u32 = 10;

impl Default for RunRows {
    fn default() -> Self {
        RunRows {
            buckets: (0..1 << BUCKET_BITS).map(|_| Vec::new()).collect(),
        }
    }
}

impl RunRows {
    fn bucket(key: u128) -> usize {
        (key >> (128 - BUCKET_BITS)) as usize
    }

    pub fn push(&mut self, v: Version) {
        self.buckets[Self::bucket(v.key)].push(v);
    }

    /// Makes room for about `more` rows, spread as hashed keys spread: each bucket gets its
    /// share plus four standard deviations, so that few ever grow by copying.
    pub fn reserve(&mut self, more: usize) {
        let share = more as f64 / self.buckets.len() as f64;
        let each = (share + 4.0 * share.sqrt()) as usize + 8;
        for b in &mut self.buckets {
            b.reserve(each);
        }
    }
}

#[cfg(test)]
impl From<Vec<Version>> for RunRows {
    fn from(rows: Vec<Version>) -> Self {
        let mut run = RunRows::default();
        rows.into_iter().for_each(|v| run.push(v));
        run
    }
}

/// The index: one version per key, in key order. After a run it is the versions stored
/// before it, with this run's changed keys taking the place of their stored versions; the
/// two lists are merged as the index is written, so no third list of every key is built.
#[derive(Debug, Default)]
pub struct KeyIndex {
    /// Versions stored before this run (sequence number 0), sorted by key.
    stored: Vec<Version>,
    /// This run's final versions of the keys it added or changed: buckets of
    /// [`RunRows`], each sorted by key (empty before a run).
    run: Vec<Vec<Version>>,
    /// How many keys of `run` are also in `stored`.
    overlap: usize,
}

/// What one run's rows turned out to be, and the index after them.
pub struct Resolution {
    pub index: KeyIndex,
    /// Per sequence number (0 unused): 0 new, 1 duplicate, 2 update.
    outcomes: Vec<u8>,
    /// One bit per sequence number: the row holds its key's current version.
    current: Vec<u64>,
    /// Keys whose version stored before this run was replaced by a row of this run.
    pub replaced: HashSet<u128>,
    /// Months whose partition changes: they get a new or updated row, or lose a replaced one.
    pub touched: BTreeSet<i32>,
    /// Months that hold a row that is not current: a replaced version (stored or from this
    /// run) or a duplicate of this run. Only these need their rows checked when merged.
    pub mixed: BTreeSet<i32>,
    /// Rows set aside as conflicts, each with a row of the same object and key whose
    /// content differs: (sequence number, the other's), in key order.
    pub conflicts: Vec<(u32, u32)>,
}

const NEW: u8 = 0;
const DUPLICATE: u8 = 1;
const UPDATED: u8 = 2;
const CONFLICT: u8 = 3;

/// Counts of outcomes over a range of sequence numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub new: u64,
    pub duplicate: u64,
    pub updated: u64,
    pub conflict: u64,
}

impl Resolution {
    /// Whether the row numbered `seq` holds its key's current version.
    pub fn is_current(&self, seq: u32) -> bool {
        let s = seq as usize;
        self.current
            .get(s / 64)
            .is_some_and(|w| w & (1 << (s % 64)) != 0)
    }

    /// What the rows numbered `first..=last` were.
    pub fn counts(&self, first: u32, last: u32) -> Counts {
        let mut c = Counts::default();
        if first == 0 || first > last {
            return c;
        }
        for o in &self.outcomes[first as usize..=last as usize] {
            match *o {
                NEW => c.new += 1,
                DUPLICATE => c.duplicate += 1,
                CONFLICT => c.conflict += 1,
                _ => c.updated += 1,
            }
        }
        c
    }
}

/// Settles this run's rows against the stored index (see the module doc). `last_seq` is
/// the highest sequence number among `rows`. Each bucket of rows becomes the list of this
/// run's final versions of its keys (compacted in place), so the index after the run costs
/// no more memory than the rows did.
pub fn resolve(stored: KeyIndex, rows: RunRows, last_seq: u32) -> Resolution {
    resolve_objects(stored, rows, last_seq, None)
}

/// [`resolve`], with the rows of one object that disagree on a key set aside as conflicts
/// when `objects` (the first sequence number of each object read, ascending) is given.
pub fn resolve_objects(
    stored: KeyIndex,
    mut rows: RunRows,
    last_seq: u32,
    objects: Option<&[u32]>,
) -> Resolution {
    debug_assert!(stored.run.is_empty(), "a stored index has no run versions");
    let stored = stored.stored;
    rows.buckets
        .par_iter_mut()
        .for_each(|b| b.sort_unstable_by_key(|r| (r.key, r.seq)));
    let slots = last_seq as usize + 1;
    let mut outcomes = vec![NEW; slots];
    let mut current = vec![0u64; slots.div_ceil(64)];
    let mut replaced = HashSet::new();
    // Months of this run's rows as bits from the lowest one; months of stored versions
    // (only met through updates) in a set.
    let all = || rows.buckets.iter().flatten();
    let lo = all().map(|r| r.month).min().unwrap_or(0);
    let hi = all().map(|r| r.month).max().unwrap_or(0);
    let width = (hi as i64 - lo as i64 + 1) as usize;
    let (mut touched_bits, mut mixed_bits) = (vec![false; width], vec![false; width]);
    let bit = |m: i32| (m as i64 - lo as i64) as usize;
    let (mut touched, mut mixed) = (BTreeSet::new(), BTreeSet::new());
    let mut conflicts = Vec::new();
    // The object a sequence number belongs to (its position among `objects`).
    let object_of = |seq: u32| objects.map(|o| o.partition_point(|f| *f <= seq));

    // `i` reads the stored index. In each bucket, `j` reads the sorted rows and `w` writes
    // each key's final version over rows already read (a key has at least one row, so `w`
    // never passes `j`).
    let (mut i, mut overlap) = (0, 0);
    for rows in &mut rows.buckets {
        let (mut j, mut w) = (0, 0);
        while j < rows.len() {
            let key = rows[j].key;
            i += stored[i..].partition_point(|e| e.key < key);
            let was_stored = stored.get(i).filter(|e| e.key == key).copied();
            // The current version so far: (content, month, seq), seq 0 for the stored one.
            let mut cur = was_stored.map(|e| (e.content, e.month, 0u32));
            // Rows before this index were checked for conflicts already.
            let mut checked = j;
            while let Some(r) = rows.get(j).filter(|r| r.key == key) {
                // A key with one row here cannot conflict: no object lookup on the hot path.
                if objects.is_some()
                    && j >= checked
                    && rows.get(j + 1).is_some_and(|x| x.key == key)
                {
                    // The rows of this key from r's object, and whether they disagree.
                    let o = object_of(r.seq);
                    let end = j + rows[j..]
                        .iter()
                        .take_while(|x| x.key == key && object_of(x.seq) == o)
                        .count();
                    checked = end;
                    let segment = &rows[j..end];
                    if segment.iter().any(|x| x.content != r.content) {
                        for x in segment {
                            outcomes[x.seq as usize] = CONFLICT;
                            touched_bits[bit(x.month)] = true;
                            mixed_bits[bit(x.month)] = true;
                            let other = segment
                                .iter()
                                .find(|y| y.content != x.content)
                                .expect("the segment disagrees");
                            conflicts.push((x.seq, other.seq));
                        }
                        j = end;
                        continue;
                    }
                }
                let seq = r.seq as usize;
                match cur {
                    None => {
                        touched_bits[bit(r.month)] = true;
                        cur = Some((r.content, r.month, r.seq));
                    }
                    Some((content, _, _)) if content == r.content => {
                        outcomes[seq] = DUPLICATE;
                        mixed_bits[bit(r.month)] = true;
                    }
                    Some((_, month, by)) => {
                        outcomes[seq] = UPDATED;
                        touched_bits[bit(r.month)] = true;
                        touched.insert(month);
                        mixed.insert(month);
                        if by == 0 {
                            replaced.insert(key);
                        }
                        cur = Some((r.content, r.month, r.seq));
                    }
                }
                j += 1;
            }
            // A key whose only rows were conflicts of a new key has no version.
            if let Some((content, month, seq)) = cur
                && seq != 0
            {
                current[seq as usize / 64] |= 1 << (seq % 64);
                rows[w] = Version {
                    key,
                    content,
                    month,
                    seq,
                };
                w += 1;
                overlap += was_stored.is_some() as usize;
            }
        }
        rows.truncate(w);
    }
    for (i, (t, m)) in touched_bits.iter().zip(&mixed_bits).enumerate() {
        let month = lo + i as i32;
        if *t {
            touched.insert(month);
        }
        if *m {
            mixed.insert(month);
        }
    }
    Resolution {
        index: KeyIndex {
            stored,
            run: rows.buckets,
            overlap,
        },
        outcomes,
        current,
        replaced,
        touched,
        mixed,
        conflicts,
    }
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
        self.stored.len() + self.run.iter().map(Vec::len).sum::<usize>() - self.overlap
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every key's current version, in key order.
    pub fn versions(&self) -> impl Iterator<Item = &Version> {
        let mut stored = self.stored.iter().peekable();
        let mut run = self.run.iter().flatten().peekable();
        std::iter::from_fn(move || match (stored.peek(), run.peek()) {
            (Some(s), Some(r)) if s.key < r.key => stored.next(),
            (Some(s), Some(r)) if s.key == r.key => {
                stored.next();
                run.next()
            }
            (Some(_), None) => stored.next(),
            _ => run.next(),
        })
    }

    /// The current version of `key` (the tests' view; ingest itself asks the resolution).
    #[cfg(test)]
    pub fn get(&self, key: u128) -> Option<&Version> {
        fn find(list: &[Version], key: u128) -> Option<&Version> {
            let i = list.binary_search_by_key(&key, |e| e.key).ok()?;
            list.get(i)
        }
        let bucket = self
            .run
            .get(RunRows::bucket(key))
            .map_or(&[][..], Vec::as_slice);
        find(bucket, key).or_else(|| find(&self.stored, key))
    }

    /// Reads a stored index. Indexes written before it was kept sorted are sorted here.
    pub fn from_batches(batches: &[RecordBatch]) -> Result<KeyIndex> {
        let mut entries = Vec::with_capacity(batches.iter().map(|b| b.num_rows()).sum());
        for b in batches {
            let col = |i: usize| -> Result<&UInt64Array> {
                b.column(i)
                    .as_any()
                    .downcast_ref::<UInt64Array>()
                    .ok_or_else(|| Error::Warehouse {
                        table: "key index".into(),
                        message: "unexpected schema (written by another version of Conveyor?)"
                            .into(),
                    })
            };
            let (hi, lo, content) = (col(0)?, col(1)?, col(2)?);
            let month = b
                .column(3)
                .as_any()
                .downcast_ref::<Int32Array>()
                .ok_or_else(|| Error::Warehouse {
                    table: "key index".into(),
                    message: "unexpected schema (written by another version of Conveyor?)".into(),
                })?;
            for r in 0..b.num_rows() {
                entries.push(Version {
                    key: ((hi.value(r) as u128) << 64) | lo.value(r) as u128,
                    content: content.value(r),
                    month: month.value(r),
                    seq: 0,
                });
            }
        }
        if !entries.is_sorted_by_key(|e| e.key) {
            entries.par_sort_unstable_by_key(|e| e.key);
        }
        Ok(KeyIndex {
            stored: entries,
            ..KeyIndex::default()
        })
    }

    /// The index as Arrow batches of `BATCH` versions, in key order, built one at a time.
    pub fn batches(&self) -> impl Iterator<Item = Result<RecordBatch>> + '_ {
        const BATCH: usize = 256 * 1024;
        let mut versions = self.versions().peekable();
        std::iter::from_fn(move || {
            versions.peek()?;
            let part: Vec<&Version> = versions.by_ref().take(BATCH).collect();
            let column = |f: fn(&Version) -> u64| -> Arc<UInt64Array> {
                Arc::new(part.iter().map(|v| f(v)).collect::<Vec<_>>().into())
            };
            let month: Int32Array = part.iter().map(|e| e.month).collect::<Vec<_>>().into();
            Some(
                RecordBatch::try_new(
                    schema(),
                    vec![
                        column(|e| (e.key >> 64) as u64),
                        column(|e| e.key as u64),
                        column(|e| e.content),
                        Arc::new(month),
                    ],
                )
                .map_err(Error::from),
            )
        })
    }
}

/// How the index file lays out its columns: the hashes are random bits.
pub const HINTS: parquet_io::ColumnHints<'static> = parquet_io::ColumnHints {
    distinct: &[],
    random: &["key_hi", "key_lo", "content"],
    delta: &[],
};

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: u128, content: u64, month: i32, seq: u32) -> Version {
        Version {
            key,
            content,
            month,
            seq,
        }
    }

    fn stored(entries: &[(u128, u64, i32)]) -> KeyIndex {
        let mut stored: Vec<Version> = entries
            .iter()
            .map(|&(key, content, month)| row(key, content, month, 0))
            .collect();
        stored.sort_by_key(|e| e.key);
        KeyIndex {
            stored,
            ..KeyIndex::default()
        }
    }

    /// The index as its Parquet file, read back.
    fn round_trip(index: &KeyIndex) -> KeyIndex {
        let opts = parquet_io::WriteOptions::default();
        let bytes = parquet_io::encode_each_with(&schema(), index.batches(), opts, HINTS).unwrap();
        KeyIndex::from_batches(&parquet_io::decode(bytes).unwrap()).unwrap()
    }

    fn listed(index: &KeyIndex) -> Vec<(u128, u64, i32)> {
        index
            .versions()
            .map(|e| (e.key, e.content, e.month))
            .collect()
    }

    #[test]
    fn new_duplicate_update_in_sequence_order_whatever_the_input_order() {
        // Key 7: new (seq 1), the same again (2), changed and moved to month 6 (3).
        // Key 9 is stored in month 4 and updated by seq 4; key 5 is stored and unchanged;
        // key 8 only repeats its stored version (seq 5).
        let rows = vec![
            row(9, 200, 4, 4),
            row(7, 101, 6, 3),
            row(8, 80, 2, 5),
            row(7, 100, 5, 1),
            row(7, 100, 5, 2),
        ];
        let r = resolve(
            stored(&[(5, 50, 1), (9, 90, 4), (8, 80, 2)]),
            rows.into(),
            5,
        );
        assert_eq!(
            r.counts(1, 5),
            Counts {
                new: 1,
                duplicate: 2,
                updated: 2,
                conflict: 0
            }
        );
        assert_eq!(r.counts(3, 3).updated, 1);
        assert_eq!(r.counts(2, 2).duplicate, 1);
        let current: Vec<u32> = (1..=5).filter(|s| r.is_current(*s)).collect();
        assert_eq!(current, vec![3, 4], "the last version of 7, and 9's update");
        assert_eq!(
            r.replaced,
            HashSet::from([9]),
            "only 9's stored version was replaced"
        );
        // 7 lands in 6 (its month-5 row was replaced within the run), 9 rewrites month 4;
        // month 5 lost a row; the duplicate of 8 changes nothing in month 2.
        assert_eq!(r.touched, BTreeSet::from([4, 5, 6]));
        assert_eq!(r.mixed, BTreeSet::from([2, 4, 5]));
        assert_eq!(
            listed(&r.index),
            vec![(5, 50, 1), (7, 101, 6), (8, 80, 2), (9, 200, 4)],
            "one sorted entry per key, with its last content and month"
        );
        assert_eq!(r.index.len(), 4);
        assert_eq!(r.index.get(7).map(|e| e.month), Some(6));
        assert_eq!(r.index.get(9).map(|e| e.content), Some(200));
        assert_eq!(r.index.get(6), None);
    }

    #[test]
    fn a_key_updated_twice_in_a_run_keeps_only_the_last_row() {
        let rows = vec![row(1, 10, 3, 1), row(1, 11, 3, 2), row(1, 10, 3, 3)];
        let r = resolve(KeyIndex::default(), rows.into(), 3);
        assert_eq!(
            r.counts(1, 3),
            Counts {
                new: 1,
                duplicate: 0,
                updated: 2,
                conflict: 0
            },
            "going back to the first content is an update too"
        );
        assert!(!r.is_current(1) && !r.is_current(2) && r.is_current(3));
        assert!(r.replaced.is_empty());
        assert_eq!(r.mixed, BTreeSet::from([3]));
        assert_eq!(listed(&r.index), vec![(1, 10, 3)]);
    }

    #[test]
    fn keys_in_many_buckets_are_settled_and_listed_in_key_order() {
        // Keys spread over the buckets by their top bits; the stored index has keys in
        // buckets the run never touches, before, between and after the run's.
        let k = |b: u128, low: u128| (b << (128 - BUCKET_BITS)) | low;
        let top = (1u128 << BUCKET_BITS) - 1;
        let index = stored(&[(k(0, 1), 10, 1), (k(3, 5), 35, 1), (k(top, 9), 99, 2)]);
        let rows = vec![
            row(k(top, 9), 99, 2, 1), // duplicate of the stored version
            row(k(3, 5), 36, 3, 2),   // update of a stored key, moving it to month 3
            row(k(500, 0), 50, 3, 3), // new
            row(k(500, 0), 51, 3, 4), // updated within the run
            row(k(2, u128::MAX >> BUCKET_BITS), 20, 3, 5), // new, last key of bucket 2
        ];
        let r = resolve(index, rows.into(), 5);
        assert_eq!(
            r.counts(1, 5),
            Counts {
                new: 2,
                duplicate: 1,
                updated: 2,
                conflict: 0
            }
        );
        let current: Vec<u32> = (1..=5).filter(|s| r.is_current(*s)).collect();
        assert_eq!(current, vec![2, 4, 5]);
        assert_eq!(r.replaced, HashSet::from([k(3, 5)]));
        assert_eq!(r.touched, BTreeSet::from([1, 3]));
        assert_eq!(r.mixed, BTreeSet::from([1, 2, 3]));
        assert_eq!(
            listed(&r.index),
            vec![
                (k(0, 1), 10, 1),
                (k(2, u128::MAX >> BUCKET_BITS), 20, 3),
                (k(3, 5), 36, 3),
                (k(500, 0), 51, 3),
                (k(top, 9), 99, 2),
            ]
        );
        assert_eq!(r.index.len(), 5);
        assert_eq!(r.index.get(k(3, 5)).map(|e| e.content), Some(36));
        assert_eq!(r.index.get(k(500, 1)), None);
    }

    #[test]
    fn rows_of_one_object_that_disagree_on_a_key_are_conflicts() {
        // Objects start at seq 1 (rows 1-4) and 5 (rows 5-6). Key 7 has two contents in
        // object 1: rows 1 and 3 are conflicts, the key stays unknown, and row 5 (object
        // 2) is new. Key 8 repeats itself in object 1 (a duplicate, no conflict). Key 9 is
        // stored; object 2 disagrees on it: its stored version stays.
        let rows = vec![
            row(7, 100, 5, 1),
            row(8, 80, 5, 2),
            row(7, 101, 5, 3),
            row(8, 80, 5, 4),
            row(9, 91, 6, 5),
            row(9, 92, 6, 6),
            row(7, 100, 5, 7),
        ];
        let r = resolve_objects(stored(&[(9, 90, 4)]), rows.into(), 7, Some(&[1, 5, 7]));
        assert_eq!(
            r.counts(1, 7),
            Counts {
                new: 2,
                duplicate: 1,
                updated: 0,
                conflict: 4
            }
        );
        let mut conflicts = r.conflicts.clone();
        conflicts.sort();
        assert_eq!(conflicts, vec![(1, 3), (3, 1), (5, 6), (6, 5)]);
        let current: Vec<u32> = (1..=7).filter(|s| r.is_current(*s)).collect();
        assert_eq!(current, vec![2, 7]);
        assert!(r.replaced.is_empty());
        assert_eq!(
            listed(&r.index),
            vec![(7, 100, 5), (8, 80, 5), (9, 90, 4)],
            "9 keeps its stored version; 7 is object 3's"
        );
        assert!(r.mixed.contains(&5) && r.mixed.contains(&6));
        // Without objects, the same rows are updates of one another.
        let rows = vec![row(7, 100, 5, 1), row(7, 101, 5, 2)];
        let r = resolve(KeyIndex::default(), rows.into(), 2);
        assert_eq!(r.counts(1, 2).updated, 1);
        assert!(r.conflicts.is_empty());
    }

    #[test]
    fn round_trips_through_parquet_and_sorts_an_unsorted_index() {
        let unsorted = KeyIndex {
            stored: vec![row(u128::MAX - 3, 1, 2, 0), row(42, 3, -4, 0)],
            ..KeyIndex::default()
        };
        let back = round_trip(&unsorted);
        assert_eq!(back.len(), 2);
        assert_eq!(listed(&back), vec![(42, 3, -4), (u128::MAX - 3, 1, 2)]);

        // After a run, the stored and the run's versions are written as one sorted list.
        let r = resolve(back, vec![row(42, 9, 5, 1), row(7, 1, 5, 2)].into(), 2);
        let again = round_trip(&r.index);
        assert_eq!(
            listed(&again),
            vec![(7, 1, 5), (42, 9, 5), (u128::MAX - 3, 1, 2)]
        );
    }
}
