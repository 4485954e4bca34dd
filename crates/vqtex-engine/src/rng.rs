//! One seeded RNG family for everything random (initial weights, shuffles, masks, noise), because
//! candle's own CPU RNG cannot be seeded. Each use gets its own stream, derived from the seed and a
//! name, so adding a new random draw somewhere does not change the others.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The RNG type used throughout vqtex (portable and reproducible across platforms).
pub type Rng = ChaCha8Rng;

/// A stream of random numbers for `(seed, purpose)`.
pub fn seeded(seed: u64, purpose: &str) -> Rng {
    // FNV-1a over the purpose, mixed with the seed by SplitMix64: cheap, stable, well spread.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in purpose.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = seed ^ h;
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    ChaCha8Rng::seed_from_u64(z)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng as _;

    #[test]
    fn same_seed_and_purpose_give_the_same_stream() {
        let a: Vec<u32> = seeded(7, "x").random_iter().take(4).collect();
        let b: Vec<u32> = seeded(7, "x").random_iter().take(4).collect();
        let c: Vec<u32> = seeded(7, "y").random_iter().take(4).collect();
        let d: Vec<u32> = seeded(8, "x").random_iter().take(4).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }
}
