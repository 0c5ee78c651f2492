//! Bots in a game, driven with time as a number: their moves are wake-ups like hints, they
//! play fair, and they never act outside their round.

use quiz_core::bots::{is_bot_name, MAX_BOTS};
use quiz_core::game::{
    BotRefusal, Game, GameConfig, GameEvent, Rules, Verdict, PAUSE_AFTER_SILENT_TIMEOUTS,
};
use quiz_core::hangul::chosung;
use quiz_core::ranking::Period;
use quiz_core::words::{parse_word_list, WordBank};

const T0: u64 = 1_700_000_000_000;
const ROUND: u64 = 60_000;

fn rules() -> Rules {
    let bank = WordBank::new(
        parse_word_list(
            "questions.txt",
            "강아지\n고양이\n바나나\n사과나무\n기러기\n",
        )
        .unwrap(),
        parse_word_list("dictionary.txt", "거울\n구름다리\n가야지\n").unwrap(),
    )
    .unwrap();
    Rules::new(
        bank,
        GameConfig {
            round_ms: ROUND,
            ..GameConfig::default()
        },
    )
}

/// The bot's name that won, if `events` hold a round solved by a bot.
fn solved_by_bot(game: &Game, events: &[GameEvent]) -> Option<(String, String)> {
    events.iter().find_map(|event| match event {
        GameEvent::Solved { player, word, .. } if game.is_bot(player) => {
            Some((player.clone(), word.clone()))
        }
        _ => None,
    })
}

#[test]
fn a_strong_bot_wins_a_silent_round_at_its_planned_instant() {
    let rules = rules();
    // Some seed makes the level-5 bot answer round 1 (it answers 99 rounds in 100).
    let (mut game, planned) = (1..50)
        .find_map(|seed| {
            let mut game = Game::new(&rules, 1, seed, T0);
            game.add_bot(&rules, 5, T0).outcome.unwrap();
            let planned = game.bot_moves().first().cloned()?;
            Some((game, planned))
        })
        .expect("a level-5 bot answers");
    let question_pattern = game.pattern().to_owned();
    assert_eq!(game.next_wake(&rules), Some(planned.at));
    assert!((T0 + 750..=T0 + 1_250).contains(&planned.at), "{planned:?}");
    assert_eq!(chosung(&planned.word), question_pattern);

    assert!(game.tick(&rules, planned.at - 1).is_empty());
    let events = game.tick(&rules, planned.at);
    let (bot, word) = solved_by_bot(&game, &events).expect("the bot won");
    assert_eq!(
        (bot.as_str(), word.as_str()),
        (planned.bot.as_str(), planned.word.as_str())
    );
    assert!(is_bot_name(&bot));
    assert_eq!(game.score(&bot), 1);
    assert_eq!(game.round(), 2);
    assert_eq!(
        game.previous().and_then(|end| end.winner.clone()),
        Some(bot.clone())
    );
    // Bots score, but never rank.
    let week = rules.config.week;
    assert!(game
        .ranking()
        .top(Period::Week, planned.at, week, 20)
        .is_empty());
    assert!(game
        .ranking()
        .top(Period::AllTime, planned.at, week, 20)
        .is_empty());
}

#[test]
fn a_player_who_answers_first_ends_the_round_and_the_bots_plan() {
    let rules = rules();
    for seed in 0..40 {
        let mut game = Game::new(&rules, 1, seed, T0);
        game.add_bot(&rules, 5, T0).outcome.unwrap();
        game.add_bot(&rules, 3, T0).outcome.unwrap();
        let Some(planned) = game.bot_moves().first().cloned() else {
            continue;
        };
        let question = game.question().to_owned();
        let result = game.submit(&rules, "민지", &question, 1, planned.at - 1);
        assert!(matches!(result.verdict, Verdict::Correct { .. }));
        // The old plan is gone; whatever the bots do now is for round 2, from its start.
        assert!(game
            .bot_moves()
            .iter()
            .all(|m| m.at >= planned.at - 1 && chosung(&m.word) == game.pattern()));
        game.tick(&rules, planned.at);
        assert_eq!(
            game.score(&planned.bot),
            0,
            "seed {seed}: no answer after its round"
        );
    }
}

#[test]
fn bots_never_play_an_answered_word() {
    let rules = rules();
    for seed in 0..30 {
        let mut game = Game::new(&rules, 1, seed, T0);
        game.add_bot(&rules, 5, T0).outcome.unwrap();
        game.add_bot(&rules, 4, T0).outcome.unwrap();
        let mut now = T0;
        for _ in 0..40 {
            for planned in game.bot_moves() {
                assert_eq!(chosung(&planned.word), game.pattern());
                assert!(
                    !game.answered_words().contains(&planned.word),
                    "seed {seed}: {planned:?} was answered already"
                );
            }
            // A player keeps the room awake; the clock runs to the next wake-up.
            game.player_seen(&rules, now);
            now = game.next_wake(&rules).expect("awake");
            game.tick(&rules, now);
        }
    }
}

/// The clock at a game's wake-up always changes it, and never a millisecond before, with bots
/// moving among hints and timeouts.
#[test]
fn every_wake_up_changes_the_game_and_nothing_earlier_does() {
    let rules = rules();
    let mut bot_wins = 0;
    for seed in 0..60 {
        let mut game = Game::new(&rules, 1, seed, T0);
        game.add_bot(&rules, 1 + (seed % 5) as u8, T0)
            .outcome
            .unwrap();
        if seed % 2 == 0 {
            game.add_bot(&rules, 2, T0).outcome.unwrap();
        }
        let mut now = T0;
        for step in 0..60 {
            if step % 2 == 0 {
                // A player speaks now and then, so the room does not pause.
                game.player_seen(&rules, now);
            }
            let Some(wake) = game.next_wake(&rules) else {
                break;
            };
            assert!(
                wake > now || step == 0,
                "seed {seed}: wake {wake} not after {now}"
            );
            let mut probe = game.clone();
            assert!(
                probe.tick(&rules, wake - 1).is_empty(),
                "seed {seed}: changed early"
            );
            let events = game.tick(&rules, wake);
            assert!(!events.is_empty(), "seed {seed}: nothing at its wake-up");
            bot_wins += usize::from(solved_by_bot(&game, &events).is_some());
            now = wake;
        }
    }
    assert!(bot_wins > 30, "bots moved among the wake-ups: {bot_wins}");
}

#[test]
fn a_room_of_bots_and_silent_players_pauses() {
    let rules = rules();
    let mut game = Game::new(&rules, 1, 3, T0);
    game.add_bot(&rules, 5, T0).outcome.unwrap();
    let mut now = T0;
    let mut wakes = 0;
    while let Some(wake) = game.next_wake(&rules) {
        now = wake;
        game.tick(&rules, now);
        wakes += 1;
        assert!(wakes < 20, "a silent room with a bot must pause");
    }
    assert!(game.is_paused());
    assert!(wakes >= PAUSE_AFTER_SILENT_TIMEOUTS as usize);
    // A player's message resumes it, and the bot plans again.
    game.player_seen(&rules, now + 10_000);
    assert!(!game.is_paused());
    assert!(game.next_wake(&rules).is_some());
}

#[test]
fn seats_are_limited_and_the_newest_bot_leaves_first() {
    let rules = rules();
    let mut game = Game::new(&rules, 1, 1, T0);
    let first = game.add_bot(&rules, 3, T0).outcome.unwrap();
    let second = game.add_bot(&rules, 3, T0).outcome.unwrap();
    assert_ne!(first, second, "two bots of one level get two names");
    assert_eq!(game.bots().len(), MAX_BOTS);
    let version = game.version();
    let third = game.add_bot(&rules, 1, T0);
    assert_eq!(third.outcome, Err(BotRefusal::TooMany));
    assert!(third.events.is_empty());
    assert_eq!(game.version(), version);
    assert_eq!(
        game.add_bot(&rules, 6, T0).outcome,
        Err(BotRefusal::NoSuchLevel)
    );

    assert_eq!(game.remove_bot(&rules, T0 + 1).outcome, Ok(second.clone()));
    assert!(game.bot_moves().iter().all(|m| m.bot != second));
    assert_eq!(game.bots()[0].name, first);
    let left = game.dismiss_bots();
    assert_eq!(left, [GameEvent::BotLeft { name: first }]);
    assert!(game.bots().is_empty() && game.bot_moves().is_empty());
    assert_eq!(
        game.remove_bot(&rules, T0 + 2).outcome,
        Err(BotRefusal::NoBots)
    );
    assert!(
        game.dismiss_bots().is_empty(),
        "nothing to dismiss changes nothing"
    );
}
