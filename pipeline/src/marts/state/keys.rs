//! Customer keys: each distinct `customer_id` gets a dense number 0, 1, 2, …, so the
//! customer pass can group orders with a counting sort instead of hashing strings again.
//! The ids are kept once, end to end in byte buffers, and come back out as an Arrow string
//! column.
//!
//! **Sharded, in parallel.** Ids are split into [`SHARDS`] shards by the top bits of their
//! hash, each with its own table ([`CustomerKeys`]). The orders arrive in windows; a
//! window's rows are grouped by shard and every shard numbers its rows on its own rayon
//! task, so the cores share the work and each task probes a table a sixteenth of the size
//! (fewer cache misses). A key is a shard's base (the customers of the shards before it)
//! plus the number within the shard ([`Keys::global`]).

use datafusion::arrow::array::StringArray;
use datafusion::arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use hashbrown::HashTable;
use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

/// Number of shards (a power of two: the shard is the hash's top bits).
pub const SHARDS: usize = 16;

fn shard_of(hash: u64) -> u8 {
    (hash >> (64 - SHARDS.trailing_zeros())) as u8
}

/// The shards while orders are being read.
#[derive(Debug)]
pub struct ShardedKeys {
    shards: Vec<CustomerKeys>,
}

impl ShardedKeys {
    /// Room for about `orders` orders' customers without growing (customers ≤ orders).
    pub fn with_capacity(orders: usize) -> Self {
        // A shard holds about 1/SHARDS of the customers (at most 1/SHARDS of the orders, give
        // or take the spread; the table's power-of-two buckets leave room for that).
        let per_shard = orders / SHARDS + 64;
        ShardedKeys {
            shards: (0..SHARDS)
                .map(|_| CustomerKeys::with_capacity(per_shard))
                .collect(),
        }
    }

    /// Numbers a window of orders' ids: `local[i]` becomes order `i`'s number within its
    /// shard and `shard[i]` the shard. `None` past `u32::MAX` customers in a shard.
    pub fn number(&mut self, ids: &[&str], local: &mut [u32], shard: &mut [u8]) -> Option<()> {
        let hashes: Vec<u64> = ids.par_iter().map(|id| xxh3_64(id.as_bytes())).collect();
        // Rows grouped by shard (counting sort), in their order within each shard.
        let mut starts = [0usize; SHARDS + 1];
        for (h, s) in hashes.iter().zip(shard.iter_mut()) {
            *s = shard_of(*h);
            starts[*s as usize + 1] += 1;
        }
        for i in 0..SHARDS {
            starts[i + 1] += starts[i];
        }
        let mut fill = starts;
        let mut rows = vec![0u32; ids.len()];
        for (i, &s) in shard.iter().enumerate() {
            rows[fill[s as usize]] = i as u32;
            fill[s as usize] += 1;
        }
        let mut numbers = vec![0u32; ids.len()];
        let mut parts: Vec<(&mut CustomerKeys, &[u32], &mut [u32])> = Vec::with_capacity(SHARDS);
        let (mut rows_left, mut numbers_left) = (&rows[..], &mut numbers[..]);
        for (s, keys) in self.shards.iter_mut().enumerate() {
            let n = starts[s + 1] - starts[s];
            let (r, rest) = rows_left.split_at(n);
            let (out, rest_out) = numbers_left.split_at_mut(n);
            parts.push((keys, r, out));
            rows_left = rest;
            numbers_left = rest_out;
        }
        let ok = parts.into_par_iter().all(|(keys, rows, out)| {
            rows.iter().zip(out.iter_mut()).all(|(&row, slot)| {
                let row = row as usize;
                keys.key_hashed(ids[row], hashes[row])
                    .map(|k| *slot = k)
                    .is_some()
            })
        });
        if !ok {
            return None;
        }
        for (&row, &n) in rows.iter().zip(&numbers) {
            local[row as usize] = n;
        }
        Some(())
    }

    /// Done reading: the shards with their bases. `None` past `u32::MAX` customers.
    pub fn finish(self) -> Option<Keys> {
        let mut base = Vec::with_capacity(SHARDS + 1);
        base.push(0usize);
        for keys in &self.shards {
            base.push(base[base.len() - 1] + keys.count());
        }
        u32::try_from(base[SHARDS]).ok()?;
        Some(Keys {
            shards: self.shards,
            base,
        })
    }
}

/// Every customer's key, once all orders are numbered.
#[derive(Debug)]
pub struct Keys {
    shards: Vec<CustomerKeys>,
    /// `base[s]`: the first key of shard `s`; `base[SHARDS]` is the number of customers.
    base: Vec<usize>,
}

impl Keys {
    /// The key of the customer numbered `local` in `shard`.
    pub fn global(&self, local: u32, shard: u8) -> u32 {
        // Fits: `finish` checked the total against u32::MAX.
        (self.base[shard as usize] + local as usize) as u32
    }

    /// Number of distinct customers.
    pub fn count(&self) -> usize {
        self.base[SHARDS]
    }

    /// The ids of keys `range`, in key order, as an Arrow column.
    pub fn ids(&self, range: std::ops::Range<usize>) -> StringArray {
        let mut offsets: Vec<i32> = Vec::with_capacity(range.len() + 1);
        offsets.push(0);
        let mut values: Vec<u8> = Vec::new();
        for (s, keys) in self.shards.iter().enumerate() {
            let (lo, hi) = (
                self.base[s].max(range.start),
                self.base[s + 1].min(range.end),
            );
            if lo >= hi {
                continue;
            }
            let (from, to) = (lo - self.base[s], hi - self.base[s]);
            let (before, first) = (values.len(), keys.start(from));
            values.extend_from_slice(keys.bytes_of(from..to));
            offsets.extend((from..to).map(|k| (before + keys.ends[k] - first) as i32));
        }
        // The bytes came from valid UTF-8 strings and the offsets split them where they were
        // joined, so the checked constructor cannot fail.
        StringArray::try_new(
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            Buffer::from_vec(values),
            None,
        )
        .expect("customer ids are valid UTF-8 at their own boundaries")
    }
}

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
    #[cfg(test)]
    pub fn key(&mut self, id: &str) -> Option<u32> {
        self.key_hashed(id, xxh3_64(id.as_bytes()))
    }

    /// [`CustomerKeys::key`] with the id's xxh3 hash already computed.
    pub fn key_hashed(&mut self, id: &str, hash: u64) -> Option<u32> {
        let Self { table, bytes, ends } = self;
        let slice = |k: u32| -> &[u8] {
            let k = k as usize;
            let start = if k == 0 { 0 } else { ends[k - 1] };
            &bytes[start..ends[k]]
        };
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

    /// Where key `k`'s id starts in `bytes`.
    fn start(&self, k: usize) -> usize {
        if k == 0 { 0 } else { self.ends[k - 1] }
    }

    /// The ids of keys `range`, end to end.
    fn bytes_of(&self, range: std::ops::Range<usize>) -> &[u8] {
        &self.bytes[self.start(range.start)..self.start(range.end)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Array;

    #[test]
    fn a_shard_numbers_ids_in_order_of_first_sight() {
        let mut keys = CustomerKeys::default();
        let seen: Vec<u32> = ["c9", "a", "c9", "", "顧客1", "a"]
            .iter()
            .map(|id| keys.key(id).unwrap())
            .collect();
        assert_eq!(seen, vec![0, 1, 0, 2, 3, 1]);
        assert_eq!(keys.count(), 4);
        assert_eq!(keys.bytes_of(0..4), "c9a顧客1".as_bytes());
        assert_eq!(keys.bytes_of(2..4), "顧客1".as_bytes());
        assert_eq!(keys.bytes_of(1..1), b"");
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
        assert_eq!(keys.bytes_of(9_999..10_000), b"c9999");
    }

    #[test]
    fn windows_of_ids_get_one_dense_key_per_customer_and_give_the_ids_back() {
        // 3,000 orders of 1,000 customers (ids repeat within and across the two windows),
        // with an empty id and non-ASCII ones among them.
        let ids: Vec<String> = (0..3_000u32)
            .map(|i| match (i * 7) % 1_000 {
                0 => String::new(),
                c if c % 3 == 0 => format!("顧客{c}"),
                c => format!("c{c}"),
            })
            .collect();
        let mut sharded = ShardedKeys::with_capacity(10);
        let (mut local, mut shard) = (vec![0u32; ids.len()], vec![0u8; ids.len()]);
        for range in [0..1_700, 1_700..3_000] {
            let window: Vec<&str> = ids[range.clone()].iter().map(String::as_str).collect();
            sharded
                .number(&window, &mut local[range.clone()], &mut shard[range])
                .unwrap();
        }
        let keys = sharded.finish().unwrap();
        assert_eq!(keys.count(), 1_000);
        let key: Vec<u32> = local
            .iter()
            .zip(&shard)
            .map(|(&l, &s)| keys.global(l, s))
            .collect();
        // The same id always gets the same key, different ids different keys, 0..1000 all used.
        let mut by_id = std::collections::HashMap::new();
        for (id, &k) in ids.iter().zip(&key) {
            assert_eq!(*by_id.entry(id.as_str()).or_insert(k), k, "{id}");
        }
        let mut used: Vec<u32> = by_id.values().copied().collect();
        used.sort_unstable();
        assert_eq!(used, (0..1_000).collect::<Vec<u32>>());
        // The ids come back at their keys, whole or in any range across shards.
        let all = keys.ids(0..1_000);
        for (id, &k) in ids.iter().zip(&key) {
            assert_eq!(all.value(k as usize), id);
        }
        for (lo, hi) in [(0, 1), (5, 700), (333, 334), (999, 1_000), (400, 400)] {
            let part = keys.ids(lo..hi);
            assert_eq!(part.len(), hi - lo);
            for k in lo..hi {
                assert_eq!(part.value(k - lo), all.value(k));
            }
        }
    }
}
