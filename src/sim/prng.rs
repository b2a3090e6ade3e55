//! The one pseudo-random generator that may shape a run (docs/design.md §
//! Virtual time). Owns the algorithm and its exact output stream, so
//! that a seed replays the same run on every platform and every release: the
//! algorithm is written out here (xoshiro256** by Blackman and Vigna, seeded
//! through SplitMix64) rather than taken from a crate whose stream may change
//! between versions, and its first outputs are pinned by a test. What the
//! numbers are used for is left to the choice sources and the generators.
//!
//! No floats: every draw is an integer, so no rounding mode or platform
//! `libm` can change a decision.

/// xoshiro256** seeded through SplitMix64 from a `u64`.
///
/// Changing anything here changes every recorded seed's meaning; the test
/// `first_outputs_are_pinned` is there to make that a deliberate act.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prng {
    // invariant: not all zero (xoshiro's only fixed point); SplitMix64 never
    // yields four zero words in a row because its output function is a
    // bijection of distinct counter values.
    state: [u64; 4],
}

impl Prng {
    /// A generator whose whole output stream is determined by `seed`.
    pub fn new(seed: u64) -> Prng {
        // SplitMix64 spreads a small or patterned seed (0, 1, 42) over all
        // 256 bits of state, as the xoshiro authors recommend.
        let mut splitmix_state = seed;
        let mut state = [0u64; 4];
        for word in &mut state {
            *word = splitmix64(&mut splitmix_state);
        }
        Prng::from_state(state)
    }

    fn from_state(state: [u64; 4]) -> Prng {
        assert!(state != [0; 4], "xoshiro256** state must not be all zero");
        Prng { state }
    }

    /// The next 64 uniformly distributed bits.
    pub fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = &mut self.state;
        let result = s1.wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let shifted = *s1 << 17;
        *s2 ^= *s0;
        *s3 ^= *s1;
        *s1 ^= *s2;
        *s0 ^= *s3;
        *s2 ^= shifted;
        *s3 = s3.rotate_left(45);
        result
    }

    /// A uniform value in `0..n`.
    ///
    /// Lemire's multiply-and-shift with rejection ("Fast Random Integer
    /// Generation in an Interval", 2019): no division on the common path and
    /// no modulo bias, so `below(3)` is exactly as likely to give 0 as 2.
    ///
    /// # Panics
    ///
    /// If `n == 0` (the range is empty; a caller bug).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "Prng::below(0): cannot draw from an empty range");
        let mut product = u128::from(self.next_u64()) * u128::from(n);
        // The low half tells whether this draw fell into the short, biased
        // tail of 2^64 mod n values; those draws are rejected.
        let mut low = product as u64;
        if low < n {
            let rejection_threshold = n.wrapping_neg() % n;
            while low < rejection_threshold {
                product = u128::from(self.next_u64()) * u128::from(n);
                low = product as u64;
            }
        }
        (product >> 64) as u64
    }

    /// A uniform index in `0..len`, for picking among `len` items.
    ///
    /// # Panics
    ///
    /// If `len == 0`.
    pub fn index(&mut self, len: usize) -> usize {
        assert!(len > 0, "Prng::index(0): cannot pick from an empty slice");
        // Lossless both ways: usize is at most 64 bits on every target Rust
        // supports, and the draw is below `len`, itself a usize.
        self.below(len as u64) as usize
    }

    /// `true` with probability `numerator / denominator` (clamped to 1).
    ///
    /// Always consumes exactly one draw of `below`, even for certain or
    /// impossible outcomes, so that changing a weight does not shift the
    /// stream seen by later decisions more than necessary.
    ///
    /// # Panics
    ///
    /// If `denominator == 0`.
    pub fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        assert!(
            denominator > 0,
            "Prng::chance: denominator must be positive"
        );
        self.below(denominator) < numerator
    }

    /// Puts `items` into a uniformly random order (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for last in (1..items.len()).rev() {
            let other = self.index(last + 1);
            items.swap(last, other);
        }
    }
}

/// One step of SplitMix64 (Steele, Lea, Flood 2014; constants from Vigna's
/// reference `splitmix64.c`).
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_outputs(prng: &mut Prng, count: usize) -> Vec<u64> {
        (0..count).map(|_| prng.next_u64()).collect()
    }

    /// Checked against an independent Python transcription of Vigna's
    /// reference `xoshiro256starstar.c` and `splitmix64.c`.
    #[test]
    fn first_outputs_are_pinned() {
        assert_eq!(
            first_outputs(&mut Prng::new(0), 8),
            [
                0x99ec_5f36_cb75_f2b4,
                0xbf6e_1f78_4956_452a,
                0x1a5f_849d_4933_e6e0,
                0x6aa5_94f1_262d_2d2c,
                0xbba5_ad4a_1f84_2e59,
                0xffef_8375_d9eb_caca,
                0x6c16_0dee_d2f5_4c98,
                0x8920_ad64_8fc3_0a3f,
            ]
        );
        assert_eq!(
            first_outputs(&mut Prng::new(42), 8),
            [
                0x1578_0b2e_0c2e_c716,
                0x6104_d986_6d11_3a7e,
                0xae17_5332_39e4_99a1,
                0xecb8_ad47_03b3_60a1,
                0xfde6_dc7f_e2ec_5e64,
                0xc50d_a531_0179_5238,
                0xb821_5485_5a65_ddb2,
                0xd99a_2743_ebe6_0087,
            ]
        );
    }

    /// The published xoshiro256** vector for state [1, 2, 3, 4] (also used
    /// by the `rand_xoshiro` crate), independent of the seeding.
    #[test]
    fn core_matches_reference_vector() {
        let mut prng = Prng::from_state([1, 2, 3, 4]);
        assert_eq!(
            first_outputs(&mut prng, 4),
            [11520, 0, 1_509_978_240, 1_215_971_899_390_074_240]
        );
    }

    #[test]
    fn splitmix_matches_reference() {
        let mut state = 0;
        assert_eq!(splitmix64(&mut state), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn equal_seeds_give_equal_streams() {
        let mut a = Prng::new(7);
        let mut b = Prng::new(7);
        assert_eq!(first_outputs(&mut a, 100), first_outputs(&mut b, 100));
        assert_ne!(
            first_outputs(&mut Prng::new(7), 8),
            first_outputs(&mut Prng::new(8), 8)
        );
    }

    #[test]
    fn below_stays_in_range_and_hits_every_value() {
        let mut prng = Prng::new(1);
        for n in 1..=10u64 {
            let mut seen = vec![0u32; n as usize];
            for _ in 0..1000 {
                let value = prng.below(n);
                assert!(value < n, "below({n}) gave {value}");
                seen[value as usize] += 1;
            }
            assert!(
                seen.iter().all(|&hits| hits > 0),
                "below({n}) missed a value: {seen:?}"
            );
        }
    }

    #[test]
    fn below_is_roughly_uniform() {
        // 3 does not divide 2^64, so a modulo-biased draw would still pass;
        // this only guards against gross mistakes (e.g. always the low half).
        let mut prng = Prng::new(3);
        let mut seen = [0u32; 3];
        for _ in 0..30_000 {
            seen[prng.below(3) as usize] += 1;
        }
        assert!(
            seen.iter().all(|&hits| (9_000..11_000).contains(&hits)),
            "{seen:?}"
        );
    }

    #[test]
    fn below_handles_the_largest_range() {
        let mut prng = Prng::new(5);
        for _ in 0..100 {
            assert!(prng.below(u64::MAX) < u64::MAX);
        }
        // n = 1 never needs randomness beyond one draw and is always 0.
        assert_eq!(prng.below(1), 0);
    }

    #[test]
    #[should_panic(expected = "empty range")]
    fn below_zero_panics_clearly() {
        Prng::new(0).below(0);
    }

    #[test]
    fn chance_respects_its_bounds() {
        let mut prng = Prng::new(9);
        assert!((0..100).all(|_| !prng.chance(0, 5)));
        assert!((0..100).all(|_| prng.chance(5, 5)));
        let hits = (0..10_000).filter(|_| prng.chance(1, 4)).count();
        assert!(
            (2_000..3_000).contains(&hits),
            "chance(1, 4) hit {hits} of 10000"
        );
    }

    #[test]
    fn shuffle_permutes_and_is_deterministic() {
        let mut items: Vec<u32> = (0..20).collect();
        Prng::new(11).shuffle(&mut items);
        let mut again: Vec<u32> = (0..20).collect();
        Prng::new(11).shuffle(&mut again);
        assert_eq!(items, again);
        assert_ne!(
            items,
            (0..20).collect::<Vec<u32>>(),
            "a 20-item shuffle left everything in place"
        );
        let mut sorted = items.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..20).collect::<Vec<u32>>());
    }

    #[test]
    fn shuffle_reaches_every_order_of_three() {
        let mut prng = Prng::new(13);
        let mut orders = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let mut items = [0, 1, 2];
            prng.shuffle(&mut items);
            orders.insert(items);
        }
        assert_eq!(orders.len(), 6);
    }

    #[test]
    fn shuffle_of_empty_and_single_is_a_no_op() {
        let mut prng = Prng::new(0);
        let mut empty: [u8; 0] = [];
        prng.shuffle(&mut empty);
        let mut single = [7];
        prng.shuffle(&mut single);
        assert_eq!(single, [7]);
    }
}
