//! Properties that must hold for any input.

use std::collections::HashSet;

use proptest::prelude::*;
use quiz_core::game::{Game, GameConfig, GameEvent, Millis, Rules, Verdict, VoteKind};
use quiz_core::hangul::{chosung, compose, decompose};
use quiz_core::words::{parse_word_list, WordBank};

/// Text that mixes syllables, jamo of every kind, ASCII, whitespace and emoji.
fn korean_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => (0xAC00u32..=0xD7A3).prop_map(|c| char::from_u32(c).unwrap().to_string()),
        1 => (0x1100u32..=0x11FF).prop_map(|c| char::from_u32(c).unwrap().to_string()),
        1 => (0x3131u32..=0x318E).prop_map(|c| char::from_u32(c).unwrap().to_string()),
        1 => "[ \t\n\u{3000}a-z0-9!?.]",
        1 => any::<char>().prop_map(|c| c.to_string()),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn decomposed_text_has_the_same_chosung(text in korean_text()) {
        prop_assert_eq!(chosung(&decompose(&text)), chosung(&text));
    }

    #[test]
    fn composing_decomposed_syllables_restores_them(text in "[가-힣 a-z]{0,30}") {
        let decomposed = decompose(&text);
        prop_assert_eq!(compose(&decomposed), text.as_str());
    }

    #[test]
    fn chosung_only_yields_consonants_and_whitespace(text in korean_text()) {
        for c in chosung(&text).chars() {
            prop_assert!(c.is_whitespace() || ('\u{3131}'..='\u{314E}').contains(&c), "{c:?}");
        }
    }
}

const QUESTIONS: &str = "사람\n소리\n서랍\n강아지\n고양이\n바나나\n";
const DICTIONARY: &str = "사랑\n수레\n거위\n가위\n";
const PLAYERS: [&str; 4] = ["민지", "준호", "유나", "서연"];

#[derive(Debug, Clone)]
enum Action {
    Submit { player: usize, text: usize },
    SubmitQuestion { player: usize },
    Vote { player: usize, give_up: bool },
    Tick,
}

fn action() -> impl Strategy<Value = (Action, u64)> {
    let action = prop_oneof![
        4 => (0..PLAYERS.len(), 0..TEXTS.len()).prop_map(|(player, text)| Action::Submit { player, text }),
        2 => (0..PLAYERS.len()).prop_map(|player| Action::SubmitQuestion { player }),
        1 => (0..PLAYERS.len(), any::<bool>()).prop_map(|(player, give_up)| Action::Vote { player, give_up }),
        1 => Just(Action::Tick),
    ];
    // Steps of up to 40 s against 60 s rounds: hints and timeouts both happen.
    (action, 0u64..40_000)
}

const TEXTS: [&str; 12] = [
    "사람",
    "사랑",
    "서랍",
    "소리",
    "수레",
    "강아지",
    "고양이",
    "바나나",
    "가위",
    "ㅋㅋ",
    "ㅈㅈ",
    "거 위",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn any_sequence_of_events_keeps_the_invariants(
        seed in any::<u64>(),
        actions in proptest::collection::vec(action(), 1..120),
    ) {
        let bank = WordBank::new(
            parse_word_list("q.txt", QUESTIONS).unwrap(),
            parse_word_list("d.txt", DICTIONARY).unwrap(),
        ).unwrap();
        let rules = Rules::new(bank, GameConfig { round_ms: 60_000, ..GameConfig::default() });
        let mut now = 1_700_000_000_000u64;
        let mut game = Game::new(&rules, 1, seed, now);
        let mut wins = 0u32;
        let mut accepted_this_cycle: HashSet<String> = HashSet::new();

        for (action, step) in actions {
            now += step;
            let before = game.clone();
            let events = match action {
                Action::Submit { player, text } => {
                    let result = game.submit(&rules, PLAYERS[player], TEXTS[text], 3, now);
                    let solved = result.events.iter().any(|e| matches!(e, GameEvent::Solved { .. }));
                    prop_assert_eq!(matches!(result.verdict, Verdict::Correct { .. }), solved);
                    result.events
                }
                Action::SubmitQuestion { player } => {
                    let question = game.question().to_owned();
                    let result = game.submit(&rules, PLAYERS[player], &question, 3, now);
                    let solved = result.events.iter().any(|e| matches!(e, GameEvent::Solved { .. }));
                    prop_assert_eq!(matches!(result.verdict, Verdict::Correct { .. }), solved);
                    result.events
                }
                Action::Vote { player, give_up } => {
                    let kind = if give_up { VoteKind::GiveUp } else { VoteKind::Hint };
                    game.vote(&rules, kind, PLAYERS[player], 3, now).events
                }
                Action::Tick => game.tick(&rules, now),
            };
            // A word accepted once is refused until the deck reshuffles.
            for event in &events {
                match event {
                    GameEvent::DeckReshuffled { .. } => accepted_this_cycle.clear(),
                    GameEvent::Solved { word, .. } => prop_assert!(
                        accepted_this_cycle.insert(word.clone()),
                        "{} accepted twice in one cycle", word
                    ),
                    _ => {}
                }
            }

            let solved: Vec<u32> = events.iter().filter_map(|e| match e {
                GameEvent::Solved { round, .. } => Some(*round),
                _ => None,
            }).collect();
            prop_assert!(solved.len() <= 1, "one call solves at most one round: {events:?}");
            if let Some(round) = solved.first() {
                prop_assert_eq!(*round, before.round().max(*round));
            }
            wins += solved.len() as u32;

            if events.is_empty() {
                prop_assert_eq!(&game, &before, "no events means no change");
            } else {
                prop_assert_eq!(game.version(), before.version() + 1);
            }
            prop_assert!(game.round() >= before.round());
            prop_assert_eq!(game.scores().values().sum::<u32>(), wins);
            prop_assert_eq!(game.pattern(), chosung(game.question()));
            prop_assert!(!game.answered_words().contains(&game.question().to_owned()));
        }
    }
}

/// The instants at which the clock alone changes a round that started at `start`: a hint at
/// each third the question allows (never its last syllable) that falls before the deadline,
/// then the deadline.
fn clock_instants(start: Millis, round_ms: Millis, syllables: usize) -> Vec<Millis> {
    let hints = syllables.saturating_sub(1).min(2) as u64;
    (1..=hints)
        .map(|k| (round_ms * k).div_ceil(3))
        .filter(|offset| *offset < round_ms)
        .map(|offset| start + offset)
        .chain([start + round_ms])
        .collect()
}

fn small_rules(round_ms: Millis) -> Rules {
    let bank = WordBank::new(
        parse_word_list("q.txt", QUESTIONS).unwrap(),
        parse_word_list("d.txt", DICTIONARY).unwrap(),
    )
    .unwrap();
    Rules::new(
        bank,
        GameConfig {
            round_ms,
            ..GameConfig::default()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// In a silent room the wake-ups are exactly the hint and timeout instants, and at every
    /// millisecond in between the clock changes nothing.
    #[test]
    fn wake_ups_are_exactly_the_hint_and_timeout_instants(
        seed in any::<u64>(),
        round_ms in 1u64..400,
        start in 0u64..1_000_000,
    ) {
        let rules = small_rules(round_ms);
        let mut game = Game::new(&rules, 1, seed, start);
        let mut now = start;
        for _ in 0..quiz_core::game::PAUSE_AFTER_SILENT_TIMEOUTS {
            let expected = clock_instants(
                game.round_started_at(),
                round_ms,
                quiz_core::hangul::syllable_count(game.question()),
            );
            let mut woken = Vec::new();
            while let Some(wake) = game.next_wake(&rules) {
                prop_assert!(wake >= now, "a wake-up in the past: {} < {}", wake, now);
                for t in now..wake {
                    prop_assert!(game.clone().tick(&rules, t).is_empty(), "the clock changed the game at {} before its wake-up {}", t, wake);
                }
                let round = game.round();
                let events = game.tick(&rules, wake);
                prop_assert!(!events.is_empty(), "an empty wake-up at {}", wake);
                woken.push(wake);
                now = wake;
                if game.round() != round {
                    break;
                }
            }
            prop_assert_eq!(woken, expected);
        }
        prop_assert!(game.is_paused());
        prop_assert_eq!(game.next_wake(&rules), None);
    }

    /// Whatever players did, ticking at the wake-up the game names always changes it, and
    /// never earlier.
    #[test]
    fn a_wake_up_always_changes_the_game(
        seed in any::<u64>(),
        round_ms in 3u64..300,
        actions in proptest::collection::vec(action(), 1..60),
    ) {
        let rules = small_rules(round_ms);
        let mut now = 1_700_000_000_000u64;
        let mut game = Game::new(&rules, 1, seed, now);
        for (action, step) in actions {
            now += step % (2 * round_ms);
            match action {
                Action::Submit { player, text } => {
                    game.submit(&rules, PLAYERS[player], TEXTS[text], 3, now);
                }
                Action::SubmitQuestion { player } => {
                    let question = game.question().to_owned();
                    game.submit(&rules, PLAYERS[player], &question, 3, now);
                }
                Action::Vote { player, give_up } => {
                    let kind = if give_up { VoteKind::GiveUp } else { VoteKind::Hint };
                    game.vote(&rules, kind, PLAYERS[player], 3, now);
                }
                Action::Tick => {
                    if let Some(wake) = game.next_wake(&rules) {
                        prop_assert!(wake > now || !game.clone().tick(&rules, now).is_empty());
                        let wake = wake.max(now);
                        if wake > now {
                            prop_assert!(game.clone().tick(&rules, wake - 1).is_empty());
                        }
                        prop_assert!(!game.tick(&rules, wake).is_empty(), "an empty wake-up");
                        now = wake;
                    } else {
                        prop_assert!(game.is_paused());
                        prop_assert!(game.tick(&rules, now + 10 * round_ms).is_empty());
                    }
                }
            }
        }
    }
}
