//! The game item stays small with a word list of any size: its answered words are bounded
//! (`quiz_core::game::MAX_ANSWERED_WORDS`), so a long game on a big `WORDS_PATH` list never
//! nears DynamoDB's 400 KB item limit, where a save would fail and the room could not move on.

use quiz_core::game::{Game, GameConfig, Rules, Verdict, MAX_ANSWERED_WORDS, MAX_SCORED_PLAYERS};
use quiz_core::words::{parse_word_list, WordBank};
use quiz_store::items::{game_item, item_size, Item};
use quiz_store::Room;

use aws_sdk_dynamodb::types::AttributeValue;

/// How many questions the big list has.
const QUESTIONS: u32 = 30_000;
/// The size the game item must stay under, a quarter of DynamoDB's limit.
const LIMIT: usize = 100 * 1024;

/// The Hangul syllable with index `index` (0 is 가, 11,171 is 힣).
fn syllable(index: u32) -> char {
    char::from_u32(0xAC00 + index % 11_172).expect("a Hangul syllable")
}

/// `QUESTIONS` distinct three-syllable words: the first two syllables alone tell them apart.
fn big_word_list() -> String {
    (0..QUESTIONS)
        .map(|i| {
            [
                syllable(i),
                syllable(i / 11_172 + 100),
                syllable(i.wrapping_mul(31)),
            ]
            .iter()
            .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn encoded_size(game: &Game) -> usize {
    let item = game_item(
        &Room("a-room-name-of-forty-characters-at-most-".into()),
        game,
        "0123456789abcdef0123456789abcdef",
        4_102_444_800_000,
    )
    .expect("the game encodes");
    item_size(&item)
}

#[test]
fn a_long_game_on_thirty_thousand_questions_keeps_its_item_under_100_kb() {
    let questions = parse_word_list("big.txt", &big_word_list()).expect("the list parses");
    assert_eq!(questions.len(), QUESTIONS as usize);
    let rules = Rules::new(
        WordBank::new(questions, []).expect("the bank builds"),
        GameConfig::default(),
    );
    let mut now = 4_102_444_800_000;
    let mut game = Game::new(&rules, 1, 7, now);
    // Many players, so the score table is as big as a busy public room's.
    let players: Vec<String> = (0..MAX_SCORED_PLAYERS)
        .map(|i| format!("플레이어{i:04}"))
        .collect();
    let mut largest = 0;
    // Far enough that, were every word answered since the deck was shuffled kept, the item
    // would pass 100 KB (at about 8,500 answers).
    let answers = 10 * MAX_ANSWERED_WORDS;
    for played in 0..answers {
        now += 1_000;
        let answer = game.question().to_owned();
        let player = &players[played % players.len()];
        let result = game.submit(&rules, player, &answer, 2, now);
        assert!(
            matches!(result.verdict, Verdict::Correct { .. }),
            "answer {played}: {result:?}"
        );
        if played % 500 == 499 {
            let size = encoded_size(&game);
            largest = largest.max(size);
            assert!(
                size < LIMIT,
                "after {} answers the game item is {size} bytes",
                played + 1
            );
        }
    }
    assert_eq!(
        game.deck().cycle,
        0,
        "one cycle: nothing was forgotten by a reshuffle"
    );
    assert_eq!(game.answered_words().len(), MAX_ANSWERED_WORDS);
    assert_eq!(game.scores().len(), MAX_SCORED_PLAYERS);
    // The state frame's `answeredWords` is these words joined with ", ".
    let frame_words = game.answered_words().join(", ");
    assert!(frame_words.len() < 20 * 1024, "{}", frame_words.len());
    assert!(
        largest > 10 * 1024,
        "the measure counts the words: {largest}"
    );
}

#[test]
fn item_sizes_count_names_and_values_as_dynamodb_does() {
    let item = Item::from([
        ("room".to_owned(), AttributeValue::S("로비".into())),
        ("version".to_owned(), AttributeValue::N("12345".into())),
        ("zeros".to_owned(), AttributeValue::N("1000".into())),
        ("paused".to_owned(), AttributeValue::Bool(false)),
        (
            "words".to_owned(),
            AttributeValue::L(vec![AttributeValue::S("가나".into())]),
        ),
        (
            "m".to_owned(),
            AttributeValue::M(Item::from([(
                "k".to_owned(),
                AttributeValue::S("v".into()),
            )])),
        ),
    ]);
    let expected = (4 + 6) // "room" and two syllables of 3 bytes
        + (7 + 4) // 5 significant digits: 3 bytes, plus 1
        + (5 + 2) // trailing zeros are not significant
        + (6 + 1)
        + (5 + 3 + 1 + 6) // list overhead, one element's overhead and value
        + (1 + 3 + 1 + 1 + 1); // map overhead, then a name, a value and the element's byte
    assert_eq!(item_size(&item), expected);
}
