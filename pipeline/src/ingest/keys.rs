//! The one hash a row's key is stored under, built the same way from a row being read
//! ([`super::rows`]) and from a stored Arrow batch ([`super::write`], which must find the
//! rows a run replaced): the key index holds these hashes, never the ids themselves.
//!
//! A key of one text field (order_id, customer_id) hashes that text alone, which keeps
//! indexes written before composite keys existed valid. A key of several fields hashes
//! each part length-prefixed (text as UTF-8, a timestamp as its UTC microseconds, an
//! integer as itself), so ("ab", "c") and ("a", "bc") differ. A row whose optional key is
//! empty, in a dataset keyed by the whole row when it is (touchpoints), hashes its content
//! under a seed of its own: it can be new or a duplicate, never an update.

use datafusion::arrow::array::{
    Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use xxhash_rust::xxh3::{xxh3_128, xxh3_128_with_seed};

use crate::dataset::DatasetSpec;
use crate::error::{Error, Result};

/// Seed of whole-row keys, so they never meet an id's hash.
const WHOLE_ROW_SEED: u64 = 0x7768_6f6c_655f_726f;

/// The bytes of one row's key, part by part.
#[derive(Default)]
pub struct KeyBytes {
    buf: Vec<u8>,
    parts: u32,
    /// The first part was text (a single text part is hashed bare).
    text_first: bool,
    /// A part was empty: the key is missing.
    missing: bool,
}

impl KeyBytes {
    pub fn clear(&mut self) {
        self.buf.clear();
        self.parts = 0;
        self.text_first = false;
        self.missing = false;
    }

    pub fn text(&mut self, b: &[u8]) {
        if self.parts == 0 {
            self.text_first = true;
        }
        self.part(b);
    }

    pub fn int(&mut self, v: i64) {
        self.part(&v.to_le_bytes());
    }

    pub fn null(&mut self) {
        self.missing = true;
        self.parts += 1;
    }

    fn part(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(&(b.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(b);
        self.parts += 1;
    }

    /// The key's hash, or `None` when a part is missing.
    pub fn hash(&self) -> Option<u128> {
        if self.missing {
            None
        } else if self.parts == 1 && self.text_first {
            Some(xxh3_128(&self.buf[4..]))
        } else {
            Some(xxh3_128(&self.buf))
        }
    }
}

/// The key of a row keyed by its whole content.
pub fn whole_row(content: &[u8]) -> u128 {
    xxh3_128_with_seed(content, WHOLE_ROW_SEED)
}

/// The key hash of every row of a stored batch of `spec`'s table; `None` for a row keyed
/// by its whole content (it is never replaced).
pub fn of_batch(spec: &DatasetSpec, batch: &RecordBatch) -> Result<Vec<Option<u128>>> {
    enum KeyCol<'a> {
        Text(&'a StringArray),
        Micros(&'a TimestampMicrosecondArray),
        Int(&'a Int64Array),
    }
    let cols = spec
        .key_indices()
        .into_iter()
        .map(|i| {
            let col = batch.column(spec.column_of(i));
            let any = col.as_any();
            if let Some(a) = any.downcast_ref::<StringArray>() {
                Ok(KeyCol::Text(a))
            } else if let Some(a) = any.downcast_ref::<TimestampMicrosecondArray>() {
                Ok(KeyCol::Micros(a))
            } else if let Some(a) = any.downcast_ref::<Int64Array>() {
                Ok(KeyCol::Int(a))
            } else {
                Err(Error::Warehouse {
                    table: spec.name.into(),
                    message: format!(
                        "the stored key column {} has type {}, not text, timestamp or integer",
                        spec.fields[i].name,
                        col.data_type()
                    ),
                })
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let mut key = KeyBytes::default();
    Ok((0..batch.num_rows())
        .map(|r| {
            key.clear();
            for c in &cols {
                match c {
                    KeyCol::Text(a) if a.is_valid(r) => key.text(a.value(r).as_bytes()),
                    KeyCol::Micros(a) if a.is_valid(r) => key.int(a.value(r)),
                    KeyCol::Int(a) if a.is_valid(r) => key.int(a.value(r)),
                    _ => key.null(),
                }
            }
            key.hash()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_text_key_hashes_the_text_alone() {
        let mut k = KeyBytes::default();
        k.text(b"A-1001");
        assert_eq!(k.hash(), Some(xxh3_128(b"A-1001")));
    }

    #[test]
    fn composite_parts_are_length_prefixed() {
        let mut a = KeyBytes::default();
        a.text(b"ab");
        a.text(b"c");
        let mut b = KeyBytes::default();
        b.text(b"a");
        b.text(b"bc");
        assert_ne!(a.hash(), b.hash());
        let mut by_hand = Vec::new();
        by_hand.extend_from_slice(&2u32.to_le_bytes());
        by_hand.extend_from_slice(b"ab");
        by_hand.extend_from_slice(&1u32.to_le_bytes());
        by_hand.extend_from_slice(b"c");
        assert_eq!(a.hash(), Some(xxh3_128(&by_hand)));
    }

    #[test]
    fn a_missing_part_has_no_key() {
        let mut k = KeyBytes::default();
        k.null();
        assert_eq!(k.hash(), None);
        k.clear();
        k.int(7);
        assert!(k.hash().is_some());
    }
}
