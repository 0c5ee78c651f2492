//! The pure game rules of the chosung (초성, initial-consonant) quiz.
//!
//! The server shows a pattern such as `ㄱㅇㅈ`; players race to type a word that fits it
//! (`강아지`). This crate decides everything about that game and nothing else: it does no I/O,
//! reads no clock and draws no randomness it is not given, so any frontend (a Lambda, a local
//! server, a chat bot) can drive it, and tests can replay whole games with time as a number.
//!
//! - [`hangul`]: initial consonants, syllable checks, composition of decomposed jamo.
//! - [`keyboard`]: keys typed on a Korean keyboard left in Latin mode (`rkddkwl` is `강아지`).
//! - [`words`]: word lists, their themes, answer normalization and the word bank.
//! - [`deck`]: the seeded, repeat-free question order.
//! - [`game`]: a room's game as a state machine.
//! - [`bots`]: virtual players' decisions, pure and seeded.
//! - [`ranking`]: a room's weekly and all-time ranking, and when weeks begin.
//! - [`builtin`]: the word lists shipped with the project, compiled in.
//!
//! ```
//! use quiz_core::builtin;
//! use quiz_core::game::{Game, GameConfig, Rules};
//!
//! let rules = Rules::new(builtin::word_bank(), GameConfig::default());
//! let mut game = Game::new(&rules, 1, 7, 0);
//! let pattern = game.pattern().to_owned();
//! let answer = game.question().to_owned(); // normally secret
//! let result = game.submit(&rules, "player", &answer, 1, 1_000);
//! assert!(result.events.len() >= 2); // solved, then a new question
//! assert_ne!(game.pattern(), "");
//! # let _ = pattern;
//! ```

pub mod bots;
pub mod builtin;
pub mod deck;
pub mod game;
pub mod hangul;
pub mod keyboard;
pub mod ranking;
pub mod words;

/// The README's examples are compiled and run as tests, so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
