//! Random number generators of the engines: per-path stream derivation and xoshiro256++
//! (scalar, and four independent generators in the lanes of a vector).
//!
//! Every path `i` of a run with seed `s` has three streams, each a xoshiro256++ generator
//! whose state is four SplitMix64 outputs started from `mix(mix(s) ^ (4i + stream))`
//! (`mix` is SplitMix64's bijective finaliser, so distinct `(i, stream)` give distinct,
//! unrelated starting points): [`Stream::Params`] for the parameter draw, [`Stream::Normal`]
//! for the cohort engine's normal draw slots and [`Stream::Exact`] for its exact draws (and
//! for all of the per-customer engine's dynamics). This costs a few dozen integer
//! operations per path, where the previous ChaCha8 streams cost a 256-byte block each.

use crate::simd::Lanes;

/// The random streams of one path.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Params = 0,
    Normal = 1,
    Exact = 2,
    /// One standard normal per path: the path's model-error draw ([`crate::model::ModelError`]).
    ModelError = 3,
}

/// SplitMix64's finaliser (a bijection of `u64`).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator of stream `which` of path `path` under `seed`.
pub(crate) fn path_stream(seed: u64, path: usize, which: Stream) -> Xoshiro256pp {
    let mut x = mix(mix(seed) ^ (path as u64).wrapping_mul(4).wrapping_add(which as u64));
    let mut s = [0u64; 4];
    for w in &mut s {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        *w = mix(x);
    }
    if s == [0; 4] {
        s[0] = 0x9E37_79B9_7F4A_7C15;
    }
    Xoshiro256pp { s }
}

/// xoshiro256++ (Blackman & Vigna): a small fast generator with a 2²⁵⁶ period.
#[derive(Debug, Clone)]
pub(crate) struct Xoshiro256pp {
    s: [u64; 4],
}

impl rand::RngCore for Xoshiro256pp {
    #[inline]
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = (s[0].wrapping_add(s[3])).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    #[inline]
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// Four xoshiro256++ generators, one per lane (lane `l` of `s[j]` is word `j` of generator
/// `l`); [`Xoshiro4::next`] gives exactly what [`Xoshiro256pp`] gives lane by lane.
#[derive(Clone, Copy)]
pub(crate) struct Xoshiro4<V: Lanes> {
    s: [V::U; 4],
}

impl<V: Lanes> Xoshiro4<V> {
    /// Lane `l` continues the scalar generator `g[l]`.
    #[inline(always)]
    pub(crate) fn new(g: &[Xoshiro256pp; 4]) -> Self {
        let word = |j: usize| V::u_load(&[g[0].s[j], g[1].s[j], g[2].s[j], g[3].s[j]]);
        Xoshiro4 {
            s: [word(0), word(1), word(2), word(3)],
        }
    }

    #[inline(always)]
    pub(crate) fn next(&mut self) -> V::U {
        let [s0, s1, s2, s3] = self.s;
        let sum = V::u_add(s0, s3);
        let rot = V::u_or(V::u_shl::<23>(sum), V::u_shr::<41>(sum));
        let result = V::u_add(rot, s0);
        let t = V::u_shl::<17>(s1);
        let s2 = V::u_xor(s2, s0);
        let s3 = V::u_xor(s3, s1);
        let s1 = V::u_xor(s1, s2);
        let s0 = V::u_xor(s0, s3);
        let s2 = V::u_xor(s2, t);
        let s3 = V::u_or(V::u_shl::<45>(s3), V::u_shr::<19>(s3));
        self.s = [s0, s1, s2, s3];
        result
    }
}

#[cfg(test)]
mod tests {
    use rand::RngCore;

    use super::*;
    use crate::simd::Portable;

    #[test]
    fn streams_differ() {
        let mut seen = std::collections::HashSet::new();
        for seed in [0, 1, 42] {
            for path in 0..100 {
                for which in [Stream::Params, Stream::Normal, Stream::Exact] {
                    assert!(seen.insert(path_stream(seed, path, which).next_u64()));
                }
            }
        }
    }

    #[test]
    fn lanes_match_scalar_generators() {
        let mut g: [Xoshiro256pp; 4] = std::array::from_fn(|l| path_stream(3, l, Stream::Normal));
        let mut v = Xoshiro4::<Portable>::new(&g);
        for _ in 0..100 {
            let want = g.each_mut().map(|x| x.next_u64());
            assert_eq!(Portable::u_store(v.next()), want);
        }
    }
}
