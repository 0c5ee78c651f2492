//! The question deck: a seeded shuffle of the question list, drawn without repeats.
//!
//! The deck is stored as three numbers (seed, cycle, position) rather than as the shuffled
//! order, so a persisted game stays small; the order of a cycle is recomputed from the seed when
//! a question is drawn. Each cycle is shuffled differently.
//!
//! ```
//! use quiz_core::deck::Deck;
//!
//! let mut deck = Deck::new(42);
//! let mut drawn: Vec<usize> = (0..5).map(|_| deck.draw(5).0).collect();
//! drawn.sort();
//! assert_eq!(drawn, [0, 1, 2, 3, 4]); // a whole cycle, no repeats
//! assert!(deck.draw(5).1); // the next draw starts a new cycle
//! ```

/// Where a game is in its shuffled question order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct Deck {
    pub seed: u64,
    /// How many times the deck has been exhausted and reshuffled.
    pub cycle: u32,
    /// How many questions of this cycle have been drawn.
    pub position: u32,
}

impl Deck {
    pub fn new(seed: u64) -> Self {
        Deck {
            seed,
            cycle: 0,
            position: 0,
        }
    }

    /// Draws the next index in `0..len`; the flag is true when this draw started a new cycle
    /// (the previous one was exhausted). `len` must be non-zero.
    pub fn draw(&mut self, len: usize) -> (usize, bool) {
        let len = len.max(1);
        let mut reshuffled = false;
        if self.position as usize >= len {
            self.cycle = self.cycle.wrapping_add(1);
            self.position = 0;
            reshuffled = true;
        }
        let order = shuffled(len, self.seed ^ u64::from(self.cycle).wrapping_mul(GOLDEN));
        let index = order[self.position as usize];
        self.position += 1;
        (index, reshuffled)
    }
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64: a tiny, well-distributed generator; plenty for shuffling questions and for
/// bots' decisions.
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform number in `0..bound` (Lemire's multiply-shift; bias is negligible here).
    pub(crate) fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next()) * bound as u128) >> 64) as usize
    }
}

/// Fisher–Yates shuffle of `0..len` from `seed`.
fn shuffled(len: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    let mut rng = SplitMix64(seed);
    for i in (1..len).rev() {
        let j = rng.below(i + 1);
        order.swap(i, j);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cycle_is_a_permutation_and_cycles_differ() {
        let mut deck = Deck::new(7);
        let first: Vec<usize> = (0..50).map(|_| deck.draw(50).0).collect();
        let (start, reshuffled) = deck.draw(50);
        assert!(reshuffled);
        let second: Vec<usize> = std::iter::once(start)
            .chain((1..50).map(|_| deck.draw(50).0))
            .collect();
        for cycle in [&first, &second] {
            let mut sorted = cycle.clone();
            sorted.sort();
            assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        }
        assert_ne!(first, second);
        assert_eq!(deck.cycle, 1);
    }

    #[test]
    fn same_seed_same_order_different_seed_different_order() {
        let draw_all = |seed| {
            let mut deck = Deck::new(seed);
            (0..20).map(|_| deck.draw(20).0).collect::<Vec<_>>()
        };
        assert_eq!(draw_all(1), draw_all(1));
        assert_ne!(draw_all(1), draw_all(2));
    }

    #[test]
    fn a_shrunken_list_starts_a_new_cycle_instead_of_overflowing() {
        let mut deck = Deck::new(3);
        for _ in 0..8 {
            deck.draw(10);
        }
        let (index, reshuffled) = deck.draw(5);
        assert!(reshuffled);
        assert!(index < 5);
    }
}
