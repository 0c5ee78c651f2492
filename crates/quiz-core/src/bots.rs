//! Virtual players: what a bot decides at a round's start, as a pure function of a seed.
//!
//! A bot holds no connection and runs no process. When a round starts, each bot of the room
//! decides, from a seed, the round and the pattern, whether it will answer this round, when,
//! and with which word; the game keeps that plan ([`BotMove`]) and its instant is one more
//! wake-up, next to the hints and the timeout ([`crate::game::Game::next_wake`]). A player who
//! answers first ends the round, and the plan with it.
//!
//! The levels follow KKuTu's robots (answer chances 0.1 to 0.99, slower per syllable at lower
//! levels), with a second of reaction time on top, so the strongest bot is beatable by a quick
//! human and the weakest still wins a round now and then.
//!
//! ```
//! use quiz_core::bots::{plan_move, Bot};
//!
//! let bot = Bot { name: "🤖 달인".into(), level: 5 };
//! let planned = plan_move(&bot, 42, 1, 0, 3, &["강아지", "고양이"]);
//! // Deterministic: the same seed, round and words give the same plan.
//! assert_eq!(planned, plan_move(&bot, 42, 1, 0, 3, &["강아지", "고양이"]));
//! if let Some(planned) = planned {
//!     assert!((750..=1_250).contains(&planned.at), "about a second: {}", planned.at);
//! }
//! ```

use crate::deck::SplitMix64;
use crate::game::Millis;

/// Most bots a room holds.
pub const MAX_BOTS: usize = 2;
/// Every bot's name starts with this, and no player's may.
pub const BOT_NAME_PREFIX: &str = "🤖";

/// A bot's level: how likely it answers a round, and how fast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    /// Chance in a thousand that the bot answers a round.
    pub answers_per_mille: u32,
    /// Reaction time before typing.
    pub reaction_ms: Millis,
    /// Time per syllable of the question.
    pub per_syllable_ms: Millis,
    /// The bot's name at this level, after [`BOT_NAME_PREFIX`].
    pub name: &'static str,
}

/// Levels 1 to 5.
pub const LEVELS: [Level; 5] = [
    Level {
        answers_per_mille: 100,
        reaction_ms: 1_000,
        per_syllable_ms: 2_000,
        name: "병아리",
    },
    Level {
        answers_per_mille: 300,
        reaction_ms: 1_000,
        per_syllable_ms: 1_200,
        name: "새싹",
    },
    Level {
        answers_per_mille: 500,
        reaction_ms: 1_000,
        per_syllable_ms: 800,
        name: "보통",
    },
    Level {
        answers_per_mille: 700,
        reaction_ms: 1_000,
        per_syllable_ms: 300,
        name: "고수",
    },
    Level {
        answers_per_mille: 990,
        reaction_ms: 1_000,
        per_syllable_ms: 0,
        name: "달인",
    },
];

/// The level of a bot, `None` outside 1 to 5.
pub fn level(level: u8) -> Option<&'static Level> {
    LEVELS.get(usize::from(level).checked_sub(1)?)
}

/// A bot seated in a room.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct Bot {
    pub name: String,
    /// 1 to 5.
    pub level: u8,
}

/// What a bot will do this round: answer `word` at `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct BotMove {
    pub bot: String,
    pub at: Millis,
    pub word: String,
}

/// Whether `name` is a bot's (players may not take such names).
pub fn is_bot_name(name: &str) -> bool {
    name.starts_with(BOT_NAME_PREFIX)
}

/// A bot's decision for one round that it starts watching at `from`: whether it answers (its
/// level's chance), when (reaction time plus time per syllable of the question, ±25%), and
/// which of `words` (those that fit the pattern and were not answered yet). `None` when it
/// sits this round out or no word is left.
///
/// A pure function: the same arguments give the same plan.
pub fn plan_move(
    bot: &Bot,
    seed: u64,
    round: u32,
    from: Millis,
    syllables: usize,
    words: &[&str],
) -> Option<BotMove> {
    let level = level(bot.level)?;
    let mut rng = SplitMix64::new(
        seed ^ fnv1a(bot.name.as_bytes()) ^ u64::from(round).wrapping_mul(0xA24B_AED4_963E_E407),
    );
    if rng.below(1_000) as u32 >= level.answers_per_mille || words.is_empty() {
        return None;
    }
    let typing = level.reaction_ms + level.per_syllable_ms * syllables as Millis;
    // ±25%, so two bots of one level do not answer in lockstep.
    let jitter = 750 + rng.below(501) as Millis;
    let word = words[rng.below(words.len())];
    Some(BotMove {
        bot: bot.name.clone(),
        at: from.saturating_add(typing * jitter / 1_000),
        word: word.to_owned(),
    })
}

/// FNV-1a: a stable hash of a bot's name, so each bot of a room decides on its own.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01B3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bot(level: u8) -> Bot {
        Bot {
            name: format!("{BOT_NAME_PREFIX} {}", LEVELS[usize::from(level) - 1].name),
            level,
        }
    }

    /// Over 10,000 rounds, a higher level answers more often and sooner.
    #[test]
    fn higher_levels_answer_more_often_and_sooner() {
        let words = ["강아지", "고양이", "기러기"];
        let mut last: Option<(usize, f64)> = None;
        for level in 1..=5 {
            let bot = bot(level);
            let moves: Vec<BotMove> = (0..10_000)
                .filter_map(|round| plan_move(&bot, 7, round, 0, 3, &words))
                .collect();
            let answered = moves.len();
            let mean_ms = moves.iter().map(|m| m.at as f64).sum::<f64>() / answered as f64;
            let expected = LEVELS[usize::from(level) - 1].answers_per_mille as usize * 10;
            assert!(
                answered.abs_diff(expected) < 300,
                "level {level}: {answered} of 10,000 (expected about {expected})"
            );
            if let Some((fewer, slower)) = last {
                assert!(answered > fewer, "level {level} answers more often");
                assert!(mean_ms < slower, "level {level} answers sooner");
            }
            last = Some((answered, mean_ms));
            assert!(moves.iter().all(|m| words.contains(&m.word.as_str())));
        }
        let (_, strongest_mean) = last.expect("five levels");
        assert!(
            (900.0..=1_100.0).contains(&strongest_mean),
            "the strongest bot takes about a second: {strongest_mean} ms"
        );
    }

    #[test]
    fn decisions_are_the_same_for_a_seed_and_differ_across_seeds() {
        let words = ["강아지", "고양이", "기러기", "개나리"];
        let plans = |seed| {
            (0..200)
                .map(|round| plan_move(&bot(3), seed, round, 1_000, 3, &words))
                .collect::<Vec<_>>()
        };
        assert_eq!(plans(1), plans(1));
        assert_ne!(plans(1), plans(2));
        // Two bots of one room decide apart.
        let other = Bot {
            name: format!("{} 2", bot(3).name),
            level: 3,
        };
        let theirs: Vec<_> = (0..200)
            .map(|round| plan_move(&other, 1, round, 1_000, 3, &words))
            .collect();
        assert_ne!(plans(1), theirs);
    }

    #[test]
    fn no_word_left_or_no_level_is_no_move() {
        for round in 0..100 {
            assert_eq!(plan_move(&bot(5), 1, round, 0, 3, &[]), None);
        }
        let unknown = Bot {
            name: "🤖 ?".into(),
            level: 9,
        };
        assert_eq!(plan_move(&unknown, 1, 1, 0, 3, &["강아지"]), None);
        assert!(level(0).is_none() && level(6).is_none() && level(1).is_some());
        assert!(is_bot_name("🤖 보통") && !is_bot_name("민지"));
    }
}
