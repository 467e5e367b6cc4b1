//! Customer keys: each distinct `customer_id` gets a dense number 0, 1, 2, … in the order it
//! is first seen, so the customer pass can group orders with a counting sort instead of
//! hashing strings again. The ids are kept once, end to end in one byte buffer, and come
//! back out as an Arrow string column.

use datafusion::arrow::array::StringArray;
use datafusion::arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use hashbrown::HashTable;
use xxhash_rust::xxh3::xxh3_64;

/// The customer ids seen so far and their keys.
#[derive(Debug, Default)]
pub struct CustomerKeys {
    table: HashTable<u32>,
    bytes: Vec<u8>,
    /// `ends[k]` is where key `k`'s id ends in `bytes` (it starts where `k − 1`'s ends).
    ends: Vec<usize>,
}

impl CustomerKeys {
    /// Room for about `orders` orders' customers without growing (customers ≤ orders).
    pub fn with_capacity(orders: usize) -> Self {
        CustomerKeys {
            table: HashTable::with_capacity(orders),
            bytes: Vec::with_capacity(orders.saturating_mul(12)),
            ends: Vec::with_capacity(orders),
        }
    }

    /// The key of `id`, numbering it if it is new. `None` past `u32::MAX` customers.
    pub fn key(&mut self, id: &str) -> Option<u32> {
        let Self { table, bytes, ends } = self;
        let slice = |k: u32| -> &[u8] {
            let k = k as usize;
            let start = if k == 0 { 0 } else { ends[k - 1] };
            &bytes[start..ends[k]]
        };
        let hash = xxh3_64(id.as_bytes());
        if let Some(k) = table.find(hash, |&k| slice(k) == id.as_bytes()) {
            return Some(*k);
        }
        let k = u32::try_from(ends.len()).ok()?;
        table.insert_unique(hash, k, |&k| xxh3_64(slice(k)));
        bytes.extend_from_slice(id.as_bytes());
        ends.push(bytes.len());
        Some(k)
    }

    /// Number of distinct customers.
    pub fn count(&self) -> usize {
        self.ends.len()
    }

    /// The ids of keys `range`, in key order, as an Arrow column.
    pub fn ids(&self, range: std::ops::Range<usize>) -> StringArray {
        let start = |k: usize| if k == 0 { 0 } else { self.ends[k - 1] };
        let base = start(range.start);
        let offsets: Vec<i32> = std::iter::once(0)
            .chain(range.clone().map(|k| (self.ends[k] - base) as i32))
            .collect();
        let values = Buffer::from_slice_ref(&self.bytes[base..start(range.end)]);
        // The bytes came from valid UTF-8 strings and the offsets split them where they were
        // joined, so the checked constructor cannot fail.
        StringArray::try_new(OffsetBuffer::new(ScalarBuffer::from(offsets)), values, None)
            .expect("customer ids are valid UTF-8 at their own boundaries")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Array;

    #[test]
    fn numbers_ids_in_order_of_first_sight_and_gives_them_back() {
        let mut keys = CustomerKeys::default();
        let seen: Vec<u32> = ["c9", "a", "c9", "", "顧客1", "a"]
            .iter()
            .map(|id| keys.key(id).unwrap())
            .collect();
        assert_eq!(seen, vec![0, 1, 0, 2, 3, 1]);
        assert_eq!(keys.count(), 4);
        let ids = keys.ids(0..4);
        let ids: Vec<&str> = ids.iter().map(Option::unwrap).collect();
        assert_eq!(ids, vec!["c9", "a", "", "顧客1"]);
        let tail = keys.ids(2..4);
        assert_eq!(tail.value(0), "");
        assert_eq!(tail.value(1), "顧客1");
        assert_eq!(keys.ids(1..1).len(), 0);
    }

    #[test]
    fn many_ids_survive_the_table_growing() {
        let mut keys = CustomerKeys::default();
        for i in 0..10_000u32 {
            assert_eq!(keys.key(&format!("c{i}")), Some(i));
        }
        for i in (0..10_000u32).rev() {
            assert_eq!(keys.key(&format!("c{i}")), Some(i));
        }
        assert_eq!(keys.ids(9_999..10_000).value(0), "c9999");
    }
}
