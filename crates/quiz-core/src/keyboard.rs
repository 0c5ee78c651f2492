//! Text typed on a 2-set (두벌식) Korean keyboard that was still in Latin mode.
//!
//! Players often start typing before switching their keyboard to Hangul, so `rkddkwl` arrives
//! where `강아지` was meant. [`qwerty_to_hangul`] turns the keys back into Hangul exactly as
//! es-hangul's `convertQwertyToHangul` does, and [`latin_answer`] is the game's rule for when
//! such text counts as an answer.
//!
//! ```
//! use quiz_core::keyboard::{latin_answer, qwerty_to_hangul};
//!
//! assert_eq!(qwerty_to_hangul("rkddkwl"), "강아지");
//! assert_eq!(latin_answer("rkddkwl").as_deref(), Some("강아지"));
//! assert_eq!(latin_answer("gg"), None); // ㅎㅎ
//! ```

use crate::hangul::{is_complete_syllables, is_syllable, INITIALS};

/// The jamo on the keys `a` to `z` of the standard 2-set layout.
const KEYS: [char; 26] = [
    'ㅁ', 'ㅠ', 'ㅊ', 'ㅇ', 'ㄷ', 'ㄹ', 'ㅎ', 'ㅗ', 'ㅑ', 'ㅓ', 'ㅏ', 'ㅣ', 'ㅡ', 'ㅜ', 'ㅐ', 'ㅔ',
    'ㅂ', 'ㄱ', 'ㄴ', 'ㅅ', 'ㅕ', 'ㅍ', 'ㅈ', 'ㅌ', 'ㅛ', 'ㅋ',
];

/// The only keys whose shifted jamo differs; every other capital types its lowercase jamo.
const SHIFTED: [(char, char); 7] = [
    ('Q', 'ㅃ'),
    ('W', 'ㅉ'),
    ('E', 'ㄸ'),
    ('R', 'ㄲ'),
    ('T', 'ㅆ'),
    ('O', 'ㅒ'),
    ('P', 'ㅖ'),
];

/// Vowels typed one after the other that make one vowel: (first, second, together).
const VOWEL_PAIRS: [(char, char, char); 7] = [
    ('ㅗ', 'ㅏ', 'ㅘ'),
    ('ㅗ', 'ㅐ', 'ㅙ'),
    ('ㅗ', 'ㅣ', 'ㅚ'),
    ('ㅜ', 'ㅓ', 'ㅝ'),
    ('ㅜ', 'ㅔ', 'ㅞ'),
    ('ㅜ', 'ㅣ', 'ㅟ'),
    ('ㅡ', 'ㅣ', 'ㅢ'),
];

/// Consonants typed one after the other that make one final: (first, second, together).
const FINAL_PAIRS: [(char, char, char); 11] = [
    ('ㄱ', 'ㅅ', 'ㄳ'),
    ('ㄴ', 'ㅈ', 'ㄵ'),
    ('ㄴ', 'ㅎ', 'ㄶ'),
    ('ㄹ', 'ㄱ', 'ㄺ'),
    ('ㄹ', 'ㅁ', 'ㄻ'),
    ('ㄹ', 'ㅂ', 'ㄼ'),
    ('ㄹ', 'ㅅ', 'ㄽ'),
    ('ㄹ', 'ㅌ', 'ㄾ'),
    ('ㄹ', 'ㅍ', 'ㄿ'),
    ('ㄹ', 'ㅎ', 'ㅀ'),
    ('ㅂ', 'ㅅ', 'ㅄ'),
];

/// The 27 finals in Unicode's order; a syllable's final index is the position here plus one.
const FINALS: [char; 27] = [
    'ㄱ', 'ㄲ', 'ㄳ', 'ㄴ', 'ㄵ', 'ㄶ', 'ㄷ', 'ㄹ', 'ㄺ', 'ㄻ', 'ㄼ', 'ㄽ', 'ㄾ', 'ㄿ', 'ㅀ', 'ㅁ',
    'ㅂ', 'ㅄ', 'ㅅ', 'ㅆ', 'ㅇ', 'ㅈ', 'ㅊ', 'ㅋ', 'ㅌ', 'ㅍ', 'ㅎ',
];

/// Converts keys typed on a 2-set keyboard in Latin mode into Hangul, as es-hangul 2.4.0's
/// `convertQwertyToHangul` does, character for character.
///
/// Each ASCII letter becomes the jamo on its key; the shifted `Q W E R T O P` give
/// `ㅃ ㅉ ㄸ ㄲ ㅆ ㅒ ㅖ` and every other capital the same jamo as its lowercase letter. The jamo
/// are then assembled the way an input method would: vowels pair up (`ㅗ`+`ㅏ` = `ㅘ`), a
/// consonant after a syllable becomes its final, two finals pair up (`ㄹ`+`ㄱ` = `ㄺ`), and a
/// final moves on to start the next syllable when a vowel follows (`rkrk` is `가가`, not
/// `각ㅏ`). Anything else (spaces, digits, punctuation, emoji) is kept and separates syllables.
///
/// es-hangul's quirks, kept so the two agree:
///
/// - Hangul already in `text` is taken apart and assembled again with the keys around it:
///   `가r` gives `각`, `ㄱㅏ` gives `가`, and a lone compound consonant splits (`ㄳ` gives `ㄱㅅ`).
/// - Lone consonants never pair up: `rt` gives `ㄱㅅ`, not `ㄳ`.
/// - A compound vowel with no consonant before it (`hk`, `ㅘ`), followed by a consonant that
///   can be a final, makes es-hangul throw (`hkr`). Here the two simply stay apart: `ㅘㄱ`.
///
/// ```
/// use quiz_core::keyboard::qwerty_to_hangul;
///
/// assert_eq!(qwerty_to_hangul("rkddkwl"), "강아지");
/// assert_eq!(qwerty_to_hangul("dlfrek"), "읽다");
/// assert_eq!(qwerty_to_hangul("Rhc 2rodml"), "꽃 2개의");
/// ```
pub fn qwerty_to_hangul(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    let mut block: Option<Block> = None;
    for c in text.chars().map(key) {
        each_jamo(c, |next| {
            block = Some(match block {
                None => Block::Char(next),
                Some(current) => {
                    let (done, current) = current.push(next);
                    out.extend(done.map(Block::to_char));
                    current
                }
            });
        });
    }
    out.extend(block.map(Block::to_char));
    out
}

/// The Hangul that `text` spells when it is only keys typed in Latin mode, made of whole
/// syllables; `None` when it is anything else.
///
/// This is the game's rule for accepting `rkddkwl` as `강아지`: whitespace is dropped (as
/// answers are compared without it), the rest must be ASCII letters only, so text with digits,
/// punctuation or Hangul is never reinterpreted, and the conversion must be complete syllables
/// only, so stray keys such as `gg` (`ㅎㅎ`) or English words (`hello`) are not answers.
///
/// ```
/// use quiz_core::keyboard::latin_answer;
///
/// assert_eq!(latin_answer("rkd dkwl").as_deref(), Some("강아지"));
/// assert_eq!(latin_answer("hello"), None); // ㅗ디ㅣㅐ
/// assert_eq!(latin_answer("rk1"), None);
/// assert_eq!(latin_answer("강아지"), None);
/// ```
pub fn latin_answer(text: &str) -> Option<String> {
    let keys: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !keys.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    // Empty keys give an empty string, which is not complete syllables.
    let hangul = qwerty_to_hangul(&keys);
    is_complete_syllables(&hangul).then_some(hangul)
}

/// The jamo on key `c`, or `c` itself when it is not an ASCII letter.
fn key(c: char) -> char {
    match c {
        'a'..='z' => KEYS[usize::from(c as u8 - b'a')],
        'A'..='Z' => SHIFTED
            .iter()
            .find(|&&(shifted, _)| shifted == c)
            .map_or(KEYS[usize::from(c as u8 - b'A')], |&(_, jamo)| jamo),
        _ => c,
    }
}

/// Calls `f` with the simple jamo of `c`: a syllable's initial, vowel and final, each pair split
/// in two; compound jamo split in two too; any other character as it is.
fn each_jamo(c: char, mut f: impl FnMut(char)) {
    let mut split = |jamo: char| {
        let pair = VOWEL_PAIRS.iter().chain(&FINAL_PAIRS).find(|p| p.2 == jamo);
        match pair {
            Some(&(first, second, _)) => {
                f(first);
                f(second);
            }
            None => f(jamo),
        }
    };
    if !is_syllable(c) {
        return split(c);
    }
    let index = (c as u32 - 0xAC00) as usize;
    split(INITIALS[index / (21 * 28)]);
    split(vowel(index / 28 % 21));
    if index % 28 > 0 {
        split(FINALS[index % 28 - 1]);
    }
}

/// The last character of the text assembled so far: the only one the next jamo can change.
#[derive(Clone, Copy)]
enum Block {
    /// A lone jamo, or any other character (which never combines).
    Char(char),
    Syllable {
        initial: char,
        vowel: char,
        batchim: Option<char>,
    },
}

impl Block {
    /// Adds the simple jamo (or other character) `next`: returns the block that is now
    /// finished, if any, and the new last block.
    fn push(self, next: char) -> (Option<Block>, Block) {
        let apart = (Some(self), Block::Char(next));
        let syllable = |initial, vowel, batchim| Block::Syllable {
            initial,
            vowel,
            batchim,
        };
        match self {
            Block::Char(c) if INITIALS.contains(&c) && is_vowel(next) => {
                (None, syllable(c, next, None))
            }
            Block::Char(c) => match pair(&VOWEL_PAIRS, c, next) {
                Some(vowel) => (None, Block::Char(vowel)),
                None => apart,
            },
            Block::Syllable {
                initial,
                vowel,
                batchim: None,
            } => match pair(&VOWEL_PAIRS, vowel, next) {
                Some(vowel) => (None, syllable(initial, vowel, None)),
                None if FINALS.contains(&next) => (None, syllable(initial, vowel, Some(next))),
                None => apart,
            },
            Block::Syllable {
                initial,
                vowel,
                batchim: Some(batchim),
            } => {
                if is_vowel(next) {
                    // The final (or its second half) starts the next syllable.
                    let (kept, moved) = match FINAL_PAIRS.iter().find(|p| p.2 == batchim) {
                        Some(&(first, second, _)) => (Some(first), second),
                        None => (None, batchim),
                    };
                    let done = syllable(initial, vowel, kept);
                    (Some(done), syllable(moved, next, None))
                } else {
                    match pair(&FINAL_PAIRS, batchim, next) {
                        Some(batchim) => (None, syllable(initial, vowel, Some(batchim))),
                        None => apart,
                    }
                }
            }
        }
    }

    fn to_char(self) -> char {
        match self {
            Block::Char(c) => c,
            Block::Syllable {
                initial,
                vowel,
                batchim,
            } => {
                let initial = INITIALS.iter().position(|&i| i == initial).unwrap_or(0);
                let vowel = (vowel as u32 - 0x314F) as usize;
                let batchim =
                    batchim.map_or(0, |b| FINALS.iter().position(|&f| f == b).unwrap_or(0) + 1);
                let index = (initial * 21 + vowel) * 28 + batchim;
                char::from_u32(0xAC00 + index as u32).unwrap_or(char::REPLACEMENT_CHARACTER)
            }
        }
    }
}

/// The vowel jamo with index `index` (0 = ㅏ) in Unicode's vowel order.
fn vowel(index: usize) -> char {
    char::from_u32(0x314F + index as u32).unwrap_or(char::REPLACEMENT_CHARACTER)
}

fn is_vowel(c: char) -> bool {
    ('ㅏ'..='ㅣ').contains(&c)
}

/// What `first` and `second` make together, according to `pairs`.
fn pair(pairs: &[(char, char, char)], first: char, second: char) -> Option<char> {
    pairs
        .iter()
        .find(|p| p.0 == first && p.1 == second)
        .map(|p| p.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn converts(keys: &str, hangul: &str) {
        assert_eq!(qwerty_to_hangul(keys), hangul, "{keys:?}");
    }

    #[test]
    fn known_words() {
        converts("rkddkwl", "강아지");
        converts("rhdiddl", "고양이");
        converts("ekfr", "닭");
        converts("rkqt", "값");
        converts("dlfrek", "읽다");
        converts("Rhc", "꽃");
        converts("Rhcl", "꼬치");
        converts("dkswdk", "앉아");
        converts("rkTek", "갔다");
    }

    #[test]
    fn shifted_keys() {
        converts("QWERTOP", "ㅃㅉㄸㄲ썌ㅖ");
        converts("qwertop", "ㅂㅈㄷㄱ새ㅔ");
        converts("QkWkEkRkTk", "빠짜따까싸");
        converts("ABC", "뮻"); // other capitals type their lowercase jamo
        converts("RKDDKWL", "깡아찌"); // R and W are shifted keys, the rest are not
    }

    #[test]
    fn double_vowels() {
        for (keys, hangul) in [
            ("rhk", "과"),
            ("rho", "괘"),
            ("rhl", "괴"),
            ("rnj", "궈"),
            ("rnp", "궤"),
            ("rnl", "귀"),
            ("rml", "긔"),
            ("dnpfr", "웱"),
            ("hk", "ㅘ"),
            ("hkk", "ㅘㅏ"),
        ] {
            converts(keys, hangul);
        }
    }

    #[test]
    fn double_finals() {
        for (keys, hangul) in [
            ("rkrt", "갃"),
            ("rksw", "갅"),
            ("rksg", "갆"),
            ("rkfr", "갉"),
            ("rkfa", "갊"),
            ("rkfq", "갋"),
            ("rkft", "갌"),
            ("rkfx", "갍"),
            ("rkfv", "갎"),
            ("rkfg", "갏"),
            ("rkqt", "값"),
        ] {
            converts(keys, hangul);
        }
        converts("rkRt", "갂ㅅ"); // ㄲ pairs with nothing
        converts("rt", "ㄱㅅ"); // lone consonants never pair
    }

    #[test]
    fn final_moves_to_the_next_syllable() {
        converts("rkrk", "가가");
        converts("rkRk", "가까");
        converts("ekfrk", "달가");
        converts("rkqtk", "갑사");
        converts("ekfrdl", "닭이");
        converts("rkE", "가ㄸ"); // ㄸ, ㅃ and ㅉ are never finals
    }

    #[test]
    fn other_characters_separate_syllables() {
        converts("", "");
        converts("rkd dkwl", "강 아지");
        converts("rk1", "가1");
        converts("r k", "ㄱ ㅏ");
        converts("a😀b", "ㅁ😀ㅠ");
        converts("강아지", "강아지");
        converts("가r", "각");
        converts("ㄳ", "ㄱㅅ");
        converts("hkr", "ㅘㄱ"); // es-hangul throws here
    }

    #[test]
    fn latin_answers() {
        assert_eq!(latin_answer("rkddkwl").as_deref(), Some("강아지"));
        assert_eq!(latin_answer(" rkd dkwl\t").as_deref(), Some("강아지"));
        assert_eq!(latin_answer("RKDDKWL").as_deref(), Some("깡아찌"));
        for text in [
            "",
            "  ",
            "gg",
            "hello",
            "강아지",
            "rk1",
            "rk!",
            "rkㄱ",
            "hkr",
        ] {
            assert_eq!(latin_answer(text), None, "{text:?}");
        }
    }
}
