//! What makes rooms differ and last: themes, the answers a round's players missed, and the
//! ranking, driven with time as a number.

use std::collections::BTreeSet;

use quiz_core::builtin;
use quiz_core::game::{Game, GameConfig, Rules, Verdict};
use quiz_core::hangul::chosung;
use quiz_core::ranking::{Period, Ranking};
use quiz_core::words::{parse_word_list, WordBank, WordListError, ALL_THEMES};

const T0: u64 = 1_700_000_000_000;
/// Monday 2026-11-23 00:00 in Korea (2026-11-22 15:00 UTC).
const MONDAY_KST: u64 = 1_795_359_600_000;

fn themed_rules() -> Rules {
    let animals =
        parse_word_list("lists/animals.txt", "# 동물 (animals)\n강아지\n고양이\n").unwrap();
    let food = parse_word_list("lists/food.txt", "# 음식 (food)\n김치\n불고기\n라면\n").unwrap();
    let dictionary = parse_word_list("dictionary.txt", "기차\n가위\n거위\n").unwrap();
    let bank = WordBank::new(animals.into_iter().chain(food), dictionary).unwrap();
    Rules::new(bank, GameConfig::default())
}

#[test]
fn each_question_list_is_a_theme_named_by_its_first_comment() {
    let rules = themed_rules();
    let themes: Vec<(&str, &str, u32)> = rules
        .bank
        .themes()
        .iter()
        .map(|t| (t.id.as_ref(), t.name.as_ref(), t.question_count()))
        .collect();
    assert_eq!(themes, [("animals", "동물", 2), ("food", "음식", 3)]);
    assert!(rules.bank.has_theme("food") && rules.bank.has_theme(ALL_THEMES));
    assert!(!rules.bank.has_theme("sports"));
}

#[test]
fn a_themed_deck_asks_only_its_themes_questions() {
    let rules = themed_rules();
    let food: BTreeSet<&str> = ["김치", "불고기", "라면"].into();
    let mut game = Game::new_in_theme(&rules, "food", 1, 7, T0);
    let mut asked = BTreeSet::new();
    // Three cycles of the deck, answered and given up alike.
    for i in 0..9 {
        let question = game.question().to_owned();
        assert!(food.contains(question.as_str()), "{question} is not food");
        assert_eq!(
            rules.bank.questions()[game.question_index() as usize],
            question,
            "the index points into the whole bank"
        );
        asked.insert(question.clone());
        let result = game.submit(&rules, "민지", &question, 1, T0 + 1 + i);
        assert!(matches!(result.verdict, Verdict::Correct { .. }));
    }
    assert_eq!(asked, food.iter().map(|w| w.to_string()).collect());
    assert_eq!(game.theme(), "food");

    // Answers are still any word of the bank: 기차 is no food question but fits ㄱㅊ.
    let mut game = Game::new_in_theme(&rules, "food", 1, 7, T0);
    while game.pattern() != "ㄱㅊ" {
        let question = game.question().to_owned();
        game.submit(&rules, "민지", &question, 1, T0 + 1);
    }
    let result = game.submit(&rules, "민지", "기차", 1, T0 + 2);
    assert!(matches!(result.verdict, Verdict::Correct { .. }));
}

#[test]
fn every_list_and_unknown_themes_ask_everything() {
    let rules = themed_rules();
    for theme in [ALL_THEMES, "no-such-theme"] {
        let mut game = Game::new_in_theme(&rules, theme, 1, 3, T0);
        assert_eq!(game.theme(), ALL_THEMES);
        let mut asked = BTreeSet::new();
        for i in 0..5 {
            let question = game.question().to_owned();
            asked.insert(question.clone());
            game.submit(&rules, "민지", &question, 1, T0 + i);
        }
        assert_eq!(asked.len(), 5, "all five questions in one cycle");
    }
}

#[test]
fn theme_ids_come_from_file_names_and_must_be_plain() {
    let list = |name: &str| parse_word_list(name, "강아지\n").unwrap();
    let err = WordBank::new(list("All.txt"), []).unwrap_err();
    assert!(matches!(err, WordListError::BadThemeId { .. }), "{err}");
    let err = WordBank::new(list("all.txt"), []).unwrap_err();
    assert!(matches!(err, WordListError::BadThemeId { .. }), "{err}");
    let other = parse_word_list("b/food.txt", "김치\n").unwrap();
    let err = WordBank::new(list("a/food.txt").into_iter().chain(other), []).unwrap_err();
    assert!(matches!(err, WordListError::DuplicateTheme { .. }), "{err}");
    // A list with no comment is named by its id.
    let bank = WordBank::new(list("pets.txt"), []).unwrap();
    assert_eq!(bank.themes()[0].name, "pets");
}

#[test]
fn the_shipped_lists_are_themes() {
    let bank = builtin::word_bank();
    let food = bank.theme("food").expect("food.txt is a theme");
    assert_eq!(food.name, "음식");
    let total: u32 = bank.themes().iter().map(|t| t.question_count()).sum();
    assert_eq!(total as usize, bank.questions().len());
    assert!(bank.themes().len() >= 10);
}

#[test]
fn other_answers_put_curated_words_first_and_never_the_rounds_word() {
    let rules = themed_rules();
    let bank = &rules.bank;
    // ㄱㅊ: 김치 (curated), 기차 (dictionary).
    assert_eq!(bank.other_answers("ㄱㅊ", "김치", 5), ["기차"]);
    assert_eq!(bank.other_answers("ㄱㅊ", "기차", 5), ["김치"]);
    // ㄱㅇ: only dictionary words, in code-point order, and the limit holds.
    assert_eq!(bank.other_answers("ㄱㅇ", "", 5), ["가위", "거위"]);
    assert_eq!(bank.other_answers("ㄱㅇ", "", 1), ["가위"]);
    assert!(bank.other_answers("ㅎㅎ", "", 5).is_empty());
    assert_eq!(bank.answer_count("ㄱㅇ"), 2);
}

#[test]
fn other_answers_are_the_same_every_time_and_fit_the_pattern() {
    let bank = builtin::word_bank();
    for question in bank.questions().iter().take(200) {
        let pattern = chosung(question);
        let others = bank.other_answers(&pattern, question, 5);
        assert_eq!(others, bank.other_answers(&pattern, question, 5));
        assert_eq!(
            others.len(),
            (bank.answer_count(&pattern) as usize - 1).min(5),
            "{pattern}"
        );
        for other in &others {
            assert_eq!(chosung(other), pattern);
            assert_ne!(other, &question.as_ref());
        }
    }
}

#[test]
fn correct_answers_count_toward_the_week_and_all_time() {
    let rules = themed_rules();
    let week = rules.config.week;
    let mut game = Game::new(&rules, 1, 1, MONDAY_KST - 2_000);
    let answer = |game: &mut Game, player: &str, now: u64| {
        let question = game.question().to_owned();
        let result = game.submit(&rules, player, &question, 2, now);
        assert!(matches!(result.verdict, Verdict::Correct { .. }));
    };
    // Sunday 23:59:59 in Korea, then Monday 00:00.
    answer(&mut game, "민지", MONDAY_KST - 1_000);
    answer(&mut game, "민지", MONDAY_KST - 1);
    answer(&mut game, "서준", MONDAY_KST);
    let ranking: &Ranking = game.ranking();
    assert_eq!(
        ranking.top(Period::Week, MONDAY_KST, week, 20),
        [("서준", 1)]
    );
    assert_eq!(
        ranking.top(Period::AllTime, MONDAY_KST, week, 20),
        [("민지", 2), ("서준", 1)]
    );
    assert_eq!(
        ranking.top(Period::Week, MONDAY_KST - 1, week, 20),
        [],
        "read in last week, the stored week is the new one"
    );
    // A wrong answer or a vote counts for nothing.
    let before = game.ranking().clone();
    game.submit(&rules, "민지", "없는말", 2, MONDAY_KST + 1);
    assert_eq!(game.ranking(), &before);
}

#[cfg(feature = "serde")]
#[test]
fn a_game_stored_before_themes_and_rankings_reads_as_every_list_and_no_ranking() {
    let rules = themed_rules();
    let game = Game::new(&rules, 1, 1, T0);
    let mut json = serde_json::to_value(&game).unwrap();
    let object = json.as_object_mut().unwrap();
    object.remove("theme");
    object.remove("ranking");
    let old: Game = serde_json::from_value(json).unwrap();
    assert_eq!(old.theme(), ALL_THEMES);
    assert!(old
        .ranking()
        .top(Period::AllTime, T0, rules.config.week, 20)
        .is_empty());
}

#[test]
fn an_answer_typed_in_latin_mode_wins_as_its_hangul() {
    let rules = themed_rules();
    let mut game = Game::new_in_theme(&rules, "animals", 1, 1, T0);
    while game.pattern() != "ㄱㅇㅈ" {
        let question = game.question().to_owned();
        game.submit(&rules, "민지", &question, 1, T0 + 1);
    }
    let result = game.submit(&rules, "민지", "rkddkwl", 1, T0 + 2);
    assert_eq!(
        result.verdict,
        Verdict::Correct {
            word: "강아지".into(),
            score: game.score("민지")
        }
    );
    let end = game.previous().expect("the round ended");
    assert_eq!(
        (end.word.as_str(), end.winner.as_deref()),
        ("강아지", Some("민지"))
    );
    assert!(game.answered_words().contains(&"강아지".to_owned()));

    // Latin chat that spells no whole syllables stays chat; `gg` is still a give-up vote.
    assert_eq!(
        game.submit(&rules, "민지", "ok", 2, T0 + 3).verdict,
        Verdict::NotSyllables
    );
    assert!(matches!(
        game.submit(&rules, "민지", "gg", 2, T0 + 4).verdict,
        Verdict::Vote(_)
    ));
    // Latin text that spells a word of another pattern is judged like that word.
    assert_eq!(
        game.submit(&rules, "서준", "rlck", 2, T0 + 5).verdict,
        if game.pattern() == "ㄱㅊ" {
            Verdict::Correct {
                word: "기차".into(),
                score: 1,
            }
        } else {
            Verdict::WrongPattern
        }
    );
}
