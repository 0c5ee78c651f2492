//! The game rules, driven with time as a number.

use quiz_core::game::{
    Game, GameConfig, GameEvent, RoundEndReason, Rules, Verdict, VoteKind, VoteOutcome,
    MAX_ANSWERED_WORDS, PAUSE_AFTER_SILENT_TIMEOUTS,
};
use quiz_core::hangul::{chosung, decompose};
use quiz_core::words::{parse_word_list, WordBank};

const T0: u64 = 1_700_000_000_000;
const ROUND: u64 = 60_000;

fn rules(questions: &str, dictionary: &str) -> Rules {
    let bank = WordBank::new(
        parse_word_list("questions.txt", questions).unwrap(),
        parse_word_list("dictionary.txt", dictionary).unwrap(),
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

fn solve(game: &mut Game, rules: &Rules, player: &str, now: u64) -> String {
    let word = game.question().to_owned();
    let result = game.submit(rules, player, &word, 1, now);
    assert!(
        matches!(result.verdict, Verdict::Correct { .. }),
        "{result:?}"
    );
    word
}

#[test]
fn a_new_game_starts_at_round_one_with_a_pattern_from_its_question() {
    let rules = rules("강아지\n고양이\n바나나\n", "");
    let game = Game::new(&rules, 9, 1, T0);
    assert_eq!(game.id(), 9);
    assert_eq!(game.version(), 1);
    assert_eq!(game.round(), 1);
    assert_eq!(game.pattern(), chosung(game.question()));
    assert_eq!(
        rules.bank.questions()[game.question_index() as usize].as_ref(),
        game.question()
    );
    assert_eq!(game.round_started_at(), T0);
    assert_eq!(game.round_deadline(&rules), T0 + ROUND);
    assert!(game.previous().is_none());
}

#[test]
fn any_dictionary_word_that_fits_wins_not_only_the_question() {
    let rules = rules("사람\n바나나\n고양이\n", "사랑\n서랍\n소리\n");
    let seed = (0..)
        .find(|&seed| Game::new(&rules, 1, seed, T0).question() == "사람")
        .unwrap();
    for answer in ["사랑", "서랍", "소리", "사람"] {
        let mut game = Game::new(&rules, 1, seed, T0);
        let result = game.submit(&rules, "민지", answer, 1, T0 + 1);
        assert_eq!(
            result.verdict,
            Verdict::Correct {
                word: answer.into(),
                score: 1
            }
        );
        assert_eq!(game.answered_words(), [answer]);
        assert_eq!(game.round(), 2);
        let previous = game.previous().unwrap();
        assert_eq!(previous.word, answer);
        assert_eq!(previous.winner.as_deref(), Some("민지"));
        assert_eq!(previous.reason, RoundEndReason::Solved);
    }
}

#[test]
fn a_correct_answer_reports_what_changed() {
    let rules = rules("사람\n소리\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    let word = game.question().to_owned();
    let result = game.submit(&rules, "민지", &word, 2, T0 + 5);
    assert_eq!(result.events.len(), 3);
    assert_eq!(result.events[0], GameEvent::PlayerHeard { round: 1 });
    assert_eq!(
        result.events[1],
        GameEvent::Solved {
            round: 1,
            player: "민지".into(),
            word: word.clone(),
            score: 1
        }
    );
    assert_eq!(
        result.events[2],
        GameEvent::NewQuestion {
            round: 2,
            pattern: game.pattern().into()
        }
    );
    assert_ne!(game.question(), word);
    assert_eq!(game.round_started_at(), T0 + 5);
    assert_eq!(game.version(), 2);
}

#[test]
fn wrong_answers_change_nothing_and_say_why() {
    let rules = rules("사람\n", "사랑\n");
    let mut game = Game::new(&rules, 1, 1, T0);
    // The round's first message only marks it as heard from (nothing players see).
    let first = game.submit(&rules, "민지", "안녕", 1, T0 + 1);
    assert_eq!(first.events, [GameEvent::PlayerHeard { round: 1 }]);
    let before = game.clone();
    let cases = [
        ("ㅋㅋㅋ", Verdict::NotSyllables),
        ("", Verdict::NotSyllables),
        ("   ", Verdict::NotSyllables),
        ("사람🐶", Verdict::NotSyllables),
        ("saram", Verdict::NotSyllables),
        ("사ㄹ", Verdict::NotSyllables),
        ("고양이", Verdict::WrongPattern),
        ("사", Verdict::WrongPattern),
        ("서리", Verdict::NotAWord),
        ("수레", Verdict::NotAWord),
    ];
    for (text, verdict) in cases {
        let result = game.submit(&rules, "민지", text, 1, T0 + 1);
        assert_eq!(result.verdict, verdict, "{text:?}");
        assert!(result.events.is_empty(), "{text:?}");
        assert_eq!(game, before, "{text:?}");
    }
}

#[test]
fn whitespace_and_decomposed_answers_count() {
    let rules = rules("강아지\n", "");
    for text in [
        " 강 아 지 ",
        "강아지\n",
        &decompose("강아지"),
        &decompose(" 강 아지"),
    ] {
        let mut game = Game::new(&rules, 1, 1, T0);
        let result = game.submit(&rules, "민지", text, 1, T0 + 1);
        assert_eq!(
            result.verdict,
            Verdict::Correct {
                word: "강아지".into(),
                score: 1
            },
            "{text:?}"
        );
    }
}

#[test]
fn double_consonants_are_distinct_from_plain_ones() {
    let rules = rules("까치\n", "가치\n");
    let mut game = Game::new(&rules, 1, 1, T0);
    assert_eq!(game.pattern(), "ㄲㅊ");
    let result = game.submit(&rules, "민지", "가치", 1, T0 + 1);
    assert_eq!(result.verdict, Verdict::WrongPattern);
}

#[test]
fn an_answered_word_is_refused_until_the_deck_reshuffles() {
    // Three questions with one pattern, so every round asks ㅅㄹ.
    let rules = rules("사람\n소리\n서랍\n", "사랑\n");
    let mut game = Game::new(&rules, 1, 1, T0);
    let first = game.submit(&rules, "민지", "사랑", 1, T0 + 1);
    assert!(matches!(first.verdict, Verdict::Correct { .. }));
    assert_eq!(game.pattern(), "ㅅㄹ");
    let again = game.submit(&rules, "준호", "사랑", 1, T0 + 2);
    assert_eq!(again.verdict, Verdict::AlreadyAnswered);
    assert_eq!(again.events, [GameEvent::PlayerHeard { round: 2 }]);

    // Exhaust the deck: the answered words are forgotten and 사랑 counts again.
    let mut reshuffled = false;
    let mut now = T0 + 3;
    while !reshuffled {
        let word = game.question().to_owned();
        let result = game.submit(&rules, "민지", &word, 1, now);
        reshuffled = result
            .events
            .iter()
            .any(|e| matches!(e, GameEvent::DeckReshuffled { .. }));
        now += 1;
    }
    assert!(game.answered_words().is_empty());
    let after = game.submit(&rules, "준호", "사랑", 1, now);
    assert!(matches!(after.verdict, Verdict::Correct { .. }));
}

#[test]
fn a_question_already_answered_is_not_drawn_again_in_the_cycle() {
    let rules = rules("사람\n소리\n", "");
    for seed in 0..20 {
        let mut game = Game::new(&rules, 1, seed, T0);
        let other = if game.question() == "사람" {
            "소리"
        } else {
            "사람"
        };
        // Answering with the other question's word uses it up for this cycle.
        let result = game.submit(&rules, "민지", other, 1, T0 + 1);
        assert!(matches!(result.verdict, Verdict::Correct { .. }));
        assert!(result
            .events
            .iter()
            .any(|e| matches!(e, GameEvent::DeckReshuffled { .. })));
        assert!(game.answered_words().is_empty());
    }
}

/// A three-syllable word on the initial consonants `cho` (indices into ㄱㄲㄴ…ㅎ) with one
/// vowel throughout (0 is ㅏ, 4 is ㅓ): two vowels give two words with one pattern.
fn syllables(cho: [u32; 3], vowel: u32) -> String {
    cho.iter()
        .map(|c| char::from_u32(0xAC00 + (c * 21 + vowel) * 28).expect("a Hangul syllable"))
        .collect()
}

#[test]
fn only_the_last_answered_words_are_refused_and_older_ones_count_again() {
    // 700 patterns with two questions each: 1,400 rounds in a cycle, so more than
    // MAX_ANSWERED_WORDS answers pile up before the deck reshuffles.
    let pairs: Vec<(String, String)> = (0..700u32)
        .map(|i| {
            let cho = [i / 361, (i / 19) % 19, i % 19];
            (syllables(cho, 0), syllables(cho, 4))
        })
        .collect();
    let twin: std::collections::HashMap<&str, &str> = pairs
        .iter()
        .flat_map(|(a, b)| [(a.as_str(), b.as_str()), (b.as_str(), a.as_str())])
        .collect();
    let list: Vec<&str> = pairs
        .iter()
        .flat_map(|(a, b)| [a.as_str(), b.as_str()])
        .collect();
    let rules = rules(&list.join("\n"), "");
    let mut game = Game::new(&rules, 1, 5, T0);
    let mut answered_this_cycle = std::collections::HashSet::new();
    let (mut refused, mut accepted_again) = (0, 0);
    let mut now = T0;
    for _ in 0..1_399 {
        now += 1;
        let other = twin[game.question()].to_owned();
        if answered_this_cycle.contains(&other) {
            // The question's twin fits its pattern and was answered in this cycle.
            let remembered = game.answered_words().contains(&other);
            let result = game.submit(&rules, "준호", &other, 1, now);
            if remembered {
                assert_eq!(result.verdict, Verdict::AlreadyAnswered, "{other}");
                refused += 1;
            } else {
                assert!(
                    matches!(result.verdict, Verdict::Correct { .. }),
                    "{other}, answered more than {MAX_ANSWERED_WORDS} words ago: {result:?}"
                );
                accepted_again += 1;
                continue;
            }
        }
        let word = solve(&mut game, &rules, "민지", now);
        assert!(answered_this_cycle.insert(word));
        assert!(game.answered_words().len() <= MAX_ANSWERED_WORDS);
    }
    assert_eq!(game.deck().cycle, 0, "still the first cycle");
    assert_eq!(game.answered_words().len(), MAX_ANSWERED_WORDS);
    assert!(
        refused > 0 && accepted_again > 0,
        "{refused} {accepted_again}"
    );
}

#[test]
fn a_new_game_takes_over_the_scores_and_version_of_an_unreadable_one() {
    use quiz_core::game::MAX_SCORED_PLAYERS;
    use std::collections::BTreeMap;
    let rules = rules("강아지\n고양이\n", "");
    let mut game = Game::new(&rules, 7, 1, T0);
    let fresh = game.clone();
    let mut scores: BTreeMap<String, u32> = (0..MAX_SCORED_PLAYERS + 3)
        .map(|i| (format!("p{i:04}"), 1))
        .collect();
    scores.insert("민지".into(), 9);
    game.take_over(57, scores);
    assert_eq!(game.version(), 58);
    assert_eq!(game.scores().len(), MAX_SCORED_PLAYERS);
    assert_eq!(game.score("민지"), 9);
    // The rest is the new game's own.
    assert_eq!(
        (game.id(), game.round(), game.question()),
        (fresh.id(), fresh.round(), fresh.question())
    );
    // A version behind the new game's own is not a step back.
    let mut other = fresh.clone();
    other.take_over(0, BTreeMap::new());
    assert_eq!(other.version(), fresh.version());
    let won = solve(&mut game, &rules, "민지", T0 + 1);
    assert_eq!(game.score("민지"), 10, "{won}");
    assert_eq!(game.version(), 59);
}

#[test]
fn the_deck_gives_every_question_once_per_cycle() {
    let words = [
        "강아지",
        "고양이",
        "바나나",
        "사과",
        "자동차",
        "학교",
        "연필",
    ];
    let rules = rules(&words.join("\n"), "");
    let mut game = Game::new(&rules, 1, 99, T0);
    let mut seen = Vec::new();
    for i in 0..words.len() as u64 {
        seen.push(solve(&mut game, &rules, "민지", T0 + i + 1));
    }
    seen.sort();
    let mut expected: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    expected.sort();
    assert_eq!(seen, expected);
    assert_eq!(game.deck().cycle, 1);
    assert!(game.answered_words().is_empty());
    assert_eq!(game.score("민지"), words.len() as u32);
}

#[test]
fn hints_reveal_at_exact_thirds_of_the_round() {
    let rules = rules("강아지\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    assert_eq!(game.hint(), "ㄱㅇㅈ");
    assert!(game.tick(&rules, T0 + 19_999).is_empty());
    assert_eq!(
        game.tick(&rules, T0 + 20_000),
        [GameEvent::HintRevealed {
            round: 1,
            hint: "강ㅇㅈ".into()
        }]
    );
    assert!(game.tick(&rules, T0 + 20_001).is_empty());
    assert!(game.tick(&rules, T0 + 39_999).is_empty());
    assert_eq!(
        game.tick(&rules, T0 + 40_000),
        [GameEvent::HintRevealed {
            round: 1,
            hint: "강아ㅈ".into()
        }]
    );
    assert_eq!(game.hint_level(), 2);
    assert_eq!(
        game.pattern(),
        "ㄱㅇㅈ",
        "hints do not change what answers must match"
    );
    assert!(game.tick(&rules, T0 + 59_999).is_empty());
    assert_eq!(game.version(), 3);
}

#[test]
fn a_late_first_call_reveals_only_the_latest_hint() {
    let rules = rules("강아지\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    let events = game.tick(&rules, T0 + 45_000);
    assert_eq!(
        events,
        [GameEvent::HintRevealed {
            round: 1,
            hint: "강아ㅈ".into()
        }]
    );
}

#[test]
fn hints_never_reveal_the_last_syllable() {
    let rules = rules("사과\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    assert_eq!(game.tick(&rules, T0 + 20_000).len(), 1);
    assert_eq!(game.hint(), "사ㄱ");
    assert!(game.tick(&rules, T0 + 40_000).is_empty());
    assert_eq!(game.hint(), "사ㄱ");
}

#[test]
fn a_round_times_out_at_its_deadline_and_reveals_the_answer() {
    let rules = rules("강아지\n고양이\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    let question = game.question().to_owned();
    let events = game.tick(&rules, T0 + ROUND);
    assert_eq!(
        events[0],
        GameEvent::TimedOut {
            round: 1,
            answer: question.clone()
        }
    );
    assert!(matches!(
        events.last(),
        Some(GameEvent::NewQuestion { round: 2, .. })
    ));
    let previous = game.previous().unwrap();
    assert_eq!(previous.word, question);
    assert_eq!(previous.winner, None);
    assert_eq!(previous.reason, RoundEndReason::TimedOut);
    assert_eq!(game.round_started_at(), T0 + ROUND);
    assert!(game.scores().is_empty());
}

#[test]
fn an_answer_after_the_deadline_is_judged_against_the_next_question() {
    let rules = rules("강아지\n바나나\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    let late = game.question().to_owned();
    let result = game.submit(&rules, "민지", &late, 1, T0 + ROUND);
    assert_eq!(result.verdict, Verdict::WrongPattern);
    assert!(matches!(result.events[0], GameEvent::TimedOut { .. }));
    assert_eq!(game.version(), 2);
    assert_eq!(game.score("민지"), 0);
}

#[test]
fn an_idle_room_resumes_with_one_fresh_round() {
    let rules = rules("강아지\n고양이\n바나나\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    let events = game.tick(&rules, T0 + 10 * ROUND + 123);
    let timeouts = events
        .iter()
        .filter(|e| matches!(e, GameEvent::TimedOut { .. }))
        .count();
    assert_eq!(timeouts, 1);
    assert_eq!(game.round(), 2);
    assert_eq!(game.round_started_at(), T0 + 10 * ROUND + 123);
}

#[test]
fn a_clock_that_goes_backwards_changes_nothing() {
    let rules = rules("강아지\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    assert!(game.tick(&rules, T0 - 5_000).is_empty());
    assert_eq!(game.version(), 1);
}

#[test]
fn one_player_cannot_give_up_for_a_room() {
    let rules = rules("강아지\n고양이\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    let question = game.question().to_owned();

    let first = game.submit(&rules, "민지", "ㅈㅈ", 3, T0 + 1);
    assert_eq!(
        first.verdict,
        Verdict::Vote(VoteOutcome::Counted {
            votes: 1,
            needed: 2
        })
    );
    assert_eq!(game.version(), 2, "a counted vote is a change");
    let repeat = game.submit(&rules, "민지", "gg", 3, T0 + 2);
    assert_eq!(repeat.verdict, Verdict::Vote(VoteOutcome::AlreadyVoted));
    assert!(repeat.events.is_empty());
    assert_eq!(game.round(), 1);

    let second = game.submit(&rules, "준호", " G G ", 3, T0 + 3);
    assert_eq!(second.verdict, Verdict::Vote(VoteOutcome::Passed));
    assert!(second.events.contains(&GameEvent::GaveUp {
        round: 1,
        answer: question.clone()
    }));
    assert_eq!(game.round(), 2);
    assert!(game.votes(VoteKind::GiveUp).is_empty());
    assert_eq!(game.previous().unwrap().reason, RoundEndReason::GaveUp);
}

#[test]
fn alone_in_a_room_a_player_decides_alone() {
    let rules = rules("강아지\n고양이\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    let result = game.vote(&rules, VoteKind::GiveUp, "민지", 1, T0 + 1);
    assert_eq!(result.outcome, VoteOutcome::Passed);
    assert_eq!(game.round(), 2);
}

#[test]
fn votes_from_more_players_than_reported_still_need_a_majority_of_voters() {
    let rules = rules("강아지\n고양이\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    // The adapter says nobody is online (a stale count): one vote still passes only alone.
    let result = game.vote(&rules, VoteKind::GiveUp, "민지", 0, T0 + 1);
    assert_eq!(result.outcome, VoteOutcome::Passed);
    let result = game.vote(&rules, VoteKind::GiveUp, "민지", 4, T0 + 2);
    assert_eq!(
        result.outcome,
        VoteOutcome::Counted {
            votes: 1,
            needed: 3
        }
    );
}

#[test]
fn hint_votes_reveal_a_syllable_early_and_stop_at_the_last() {
    let rules = rules("강아지\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    let first = game.vote(&rules, VoteKind::Hint, "민지", 2, T0 + 1);
    assert_eq!(
        first.outcome,
        VoteOutcome::Counted {
            votes: 1,
            needed: 2
        }
    );
    let second = game.vote(&rules, VoteKind::Hint, "준호", 2, T0 + 2);
    assert_eq!(second.outcome, VoteOutcome::Passed);
    assert_eq!(game.hint(), "강ㅇㅈ");
    assert!(game.votes(VoteKind::Hint).is_empty());
    game.vote(&rules, VoteKind::Hint, "민지", 1, T0 + 3);
    assert_eq!(game.hint(), "강아ㅈ");
    let none = game.vote(&rules, VoteKind::Hint, "민지", 1, T0 + 4);
    assert_eq!(none.outcome, VoteOutcome::NothingToReveal);
    assert!(none.events.is_empty());
    // Time-based hints do not go back below what a vote revealed.
    assert!(game.tick(&rules, T0 + 25_000).is_empty());
}

#[test]
fn scores_are_kept_by_player_name() {
    let rules = rules("강아지\n고양이\n바나나\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    solve(&mut game, &rules, "민지", T0 + 1);
    solve(&mut game, &rules, "준호", T0 + 2);
    // The same name from a new connection is the same player.
    solve(&mut game, &rules, "민지", T0 + 3);
    assert_eq!(game.score("민지"), 2);
    assert_eq!(game.score("준호"), 1);
    assert_eq!(game.score("유나"), 0);
}

#[cfg(feature = "serde")]
#[test]
fn the_state_serializes_with_stable_field_names() {
    let rules = rules("강아지\n고양이\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    solve(&mut game, &rules, "민지", T0 + 1);
    game.vote(&rules, VoteKind::GiveUp, "민지", 3, T0 + 2);

    let json = serde_json::to_value(&game).unwrap();
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "answeredWords",
            "botMoves",
            "bots",
            "deck",
            "giveUpVotes",
            "heardThisRound",
            "hintLevel",
            "hintVotes",
            "id",
            "pattern",
            "paused",
            "previous",
            "question",
            "questionIndex",
            "ranking",
            "round",
            "roundStartedAt",
            "scores",
            "silentTimeouts",
            "theme",
            "version"
        ]
    );
    assert_eq!(json["previous"]["reason"], "solved");
    assert_eq!(json["theme"], "all");
    assert_eq!(json["ranking"]["allTime"]["민지"], 1);
    assert_eq!(json["deck"]["seed"], 1);
    let back: Game = serde_json::from_value(json).unwrap();
    assert_eq!(back, game);
}

#[test]
fn the_score_table_forgets_the_lowest_scores_past_its_limit() {
    use quiz_core::game::MAX_SCORED_PLAYERS;
    let rules = rules("강아지\n고양이\n바나나\n사과\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    solve(&mut game, &rules, "champion", T0);
    solve(&mut game, &rules, "champion", T0);
    for i in 0..MAX_SCORED_PLAYERS + 5 {
        solve(&mut game, &rules, &format!("p{i:04}"), T0 + 1 + i as u64);
    }
    assert_eq!(game.scores().len(), MAX_SCORED_PLAYERS);
    assert_eq!(game.score("champion"), 2, "a high score is kept");
    let last = format!("p{:04}", MAX_SCORED_PLAYERS + 4);
    assert_eq!(game.score(&last), 1, "the player who just scored is kept");
}

#[cfg(feature = "serde")]
#[test]
fn a_game_stored_before_the_clock_fields_existed_still_reads() {
    // A game as the previous release stored it: no `silentTimeouts`, `heardThisRound` or
    // `paused`.
    let stored = serde_json::json!({
        "answeredWords": [], "deck": {"cycle": 0, "order": [0], "position": 1, "seed": 7},
        "giveUpVotes": [], "hintLevel": 0, "hintVotes": [], "id": 4, "pattern": "ㄱㅇㅈ",
        "previous": null, "question": "강아지", "questionIndex": 0, "round": 1,
        "roundStartedAt": T0, "scores": {}, "version": 1
    });
    let rules = rules("강아지\n", "");
    let mut game: Game = serde_json::from_value(stored).unwrap();
    assert!(!game.is_paused());
    assert_eq!(game.silent_timeouts(), 0);
    assert_eq!(game.next_wake(&rules), Some(T0 + ROUND / 3));
    assert!(!game.tick(&rules, T0 + ROUND / 3).is_empty());
}

#[cfg(feature = "serde")]
#[test]
fn every_field_of_the_stored_game_may_be_absent() {
    let rules = rules("강아지\n고양이\n", "");
    let mut game = Game::new(&rules, 3, 1, T0);
    solve(&mut game, &rules, "민지", T0 + 1);
    game.vote(&rules, VoteKind::Hint, "준호", 3, T0 + 2);
    let full = serde_json::to_value(&game).unwrap();
    let fields: Vec<String> = full.as_object().unwrap().keys().cloned().collect();
    for field in &fields {
        let mut without = full.clone();
        without.as_object_mut().unwrap().remove(field);
        let read: Game = serde_json::from_value(without)
            .unwrap_or_else(|err| panic!("a game without {field} does not read: {err}"));
        // Everything else is kept.
        let mut back = serde_json::to_value(&read).unwrap();
        let mut expected = full.clone();
        back.as_object_mut().unwrap().remove(field);
        expected.as_object_mut().unwrap().remove(field);
        assert_eq!(back, expected, "{field}");
    }
    // Even an empty object reads, as a game that moves on at its first tick.
    let mut empty: Game = serde_json::from_value(serde_json::json!({})).unwrap();
    assert_eq!(empty.pattern(), "");
    assert!(!empty.tick(&rules, T0).is_empty());
    assert_eq!(empty.pattern(), chosung(empty.question()));
    assert_ne!(empty.pattern(), "");
}

#[test]
fn the_next_wake_up_is_the_next_hint_then_the_deadline() {
    let rules = rules("강아지\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    assert_eq!(game.next_wake(&rules), Some(T0 + 20_000));
    game.tick(&rules, T0 + 20_000);
    assert_eq!(game.next_wake(&rules), Some(T0 + 40_000));
    game.tick(&rules, T0 + 40_000);
    assert_eq!(game.next_wake(&rules), Some(T0 + ROUND));
    game.tick(&rules, T0 + ROUND);
    assert_eq!(game.round(), 2);
    assert_eq!(game.next_wake(&rules), Some(T0 + ROUND + 20_000));
}

#[test]
fn a_two_syllable_word_wakes_for_one_hint_and_the_deadline() {
    let rules = rules("사람\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    assert_eq!(game.next_wake(&rules), Some(T0 + 20_000));
    game.tick(&rules, T0 + 20_000);
    assert_eq!(game.next_wake(&rules), Some(T0 + ROUND));
}

#[test]
fn a_hint_voted_early_moves_the_wake_up_past_it() {
    let rules = rules("강아지\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    game.vote(&rules, VoteKind::Hint, "민지", 1, T0 + 1_000);
    assert_eq!(game.hint_level(), 1);
    assert_eq!(game.next_wake(&rules), Some(T0 + 40_000));
    game.vote(&rules, VoteKind::Hint, "민지", 1, T0 + 2_000);
    assert_eq!(game.next_wake(&rules), Some(T0 + ROUND));
}

#[test]
fn uneven_rounds_wake_at_the_first_millisecond_a_hint_is_due() {
    let rules = Rules::new(
        rules("강아지\n", "").bank,
        GameConfig {
            round_ms: 1_000,
            ..GameConfig::default()
        },
    );
    let mut game = Game::new(&rules, 1, 1, T0);
    // 1000 / 3 = 333.3…: the hint is due at 334, not 333.
    assert_eq!(game.next_wake(&rules), Some(T0 + 334));
    assert!(game.tick(&rules, T0 + 333).is_empty());
    assert!(!game.tick(&rules, T0 + 334).is_empty());
    assert_eq!(game.next_wake(&rules), Some(T0 + 667));
}

/// Lets `rounds` rounds time out with nobody talking, waking exactly when the game asks.
fn time_out_silently(game: &mut Game, rules: &Rules, rounds: u32) -> Vec<GameEvent> {
    let mut events = Vec::new();
    let target = game.round() + rounds;
    while game.round() < target {
        let wake = game.next_wake(rules).expect("a running game wakes");
        events.extend(game.tick(rules, wake));
    }
    events
}

#[test]
fn a_room_pauses_after_three_silent_timeouts_and_a_chat_resumes_it() {
    let rules = rules("강아지\n고양이\n바나나\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    time_out_silently(&mut game, &rules, PAUSE_AFTER_SILENT_TIMEOUTS - 1);
    assert!(!game.is_paused());
    let events = time_out_silently(&mut game, &rules, 1);
    assert!(game.is_paused());
    assert!(
        matches!(events.last(), Some(GameEvent::Paused { round: 4 })),
        "{events:?}"
    );
    assert_eq!(game.next_wake(&rules), None);
    let paused_at = game.round_started_at();

    // Time no longer changes a paused game, however long it waits.
    let later = paused_at + 100 * ROUND;
    assert!(game.tick(&rules, later).is_empty());
    assert_eq!(game.round(), 4);

    // A chat line resumes the same round on a fresh clock.
    let version = game.version();
    let result = game.submit(&rules, "민지", "안녕", 1, later);
    assert_eq!(result.events, [GameEvent::Resumed { round: 4 }]);
    assert_eq!(game.version(), version + 1);
    assert!(!game.is_paused());
    assert_eq!(game.round_started_at(), later);
    assert_eq!(game.next_wake(&rules), Some(later + 20_000));
}

#[test]
fn a_round_with_a_chat_line_is_not_silent() {
    let rules = rules("강아지\n고양이\n바나나\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    time_out_silently(&mut game, &rules, 2);
    let now = game.round_started_at() + 1;
    let result = game.submit(&rules, "민지", "ㅋㅋ", 1, now);
    assert_eq!(result.events, [GameEvent::PlayerHeard { round: 3 }]);
    assert!(!result.events[0].is_seen_by_players());
    assert_eq!(game.silent_timeouts(), 0);
    // Once heard from, a round's chat lines change nothing more.
    assert!(game
        .submit(&rules, "민지", "ㅋㅋ", 1, now + 1)
        .events
        .is_empty());
    // Round 3 had a chat line: its timeout is not silent; rounds 4, 5 and 6 are.
    time_out_silently(&mut game, &rules, 3);
    assert!(!game.is_paused());
    assert_eq!(game.silent_timeouts(), 2);
    time_out_silently(&mut game, &rules, 1);
    assert!(game.is_paused());
}

#[test]
fn a_timeout_applied_by_a_player_message_is_not_silent() {
    let rules = rules("강아지\n고양이\n바나나\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    time_out_silently(&mut game, &rules, 2);
    // The third round's timeout is only noticed when a player speaks long after it.
    let late = game.round_started_at() + 10 * ROUND;
    let result = game.submit(&rules, "민지", "ㅋㅋ", 1, late);
    assert!(!game.is_paused(), "{:?}", result.events);
    assert_eq!(game.silent_timeouts(), 0);
    assert_eq!(game.round(), 4);
}

#[test]
fn a_state_request_resumes_a_paused_game() {
    let rules = rules("강아지\n고양이\n바나나\n", "");
    let mut game = Game::new(&rules, 1, 1, T0);
    time_out_silently(&mut game, &rules, PAUSE_AFTER_SILENT_TIMEOUTS);
    assert!(game.is_paused());
    let now = game.round_started_at() + 5 * ROUND;
    assert_eq!(
        game.player_seen(&rules, now),
        [GameEvent::Resumed { round: 4 }]
    );
    assert!(game.player_seen(&rules, now + 1).is_empty());
    assert_eq!(game.next_wake(&rules), Some(now + 20_000));
}
