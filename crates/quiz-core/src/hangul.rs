//! Hangul arithmetic: initial consonants (chosung), syllable checks, and composition.
//!
//! Unicode lays the 11,172 modern Hangul syllables out as a product of 19 initials × 21 vowels ×
//! 28 finals, so everything here is arithmetic on code points: no normalization tables.
//!
//! ```
//! use quiz_core::hangul::chosung;
//!
//! assert_eq!(chosung("강아지"), "ㄱㅇㅈ");
//! assert_eq!(chosung("빨간 사과!"), "ㅃㄱ ㅅㄱ");
//! // Decomposed (NFD) input gives the same pattern as composed (NFC) input.
//! assert_eq!(chosung("\u{1100}\u{1161}\u{11BC}\u{110B}\u{1161}"), "ㄱㅇ");
//! ```

use std::borrow::Cow;

const SYLLABLE_FIRST: u32 = 0xAC00;
const SYLLABLE_LAST: u32 = 0xD7A3;
const VOWEL_COUNT: u32 = 21;
const FINAL_COUNT: u32 = 28;
const SYLLABLES_PER_INITIAL: u32 = VOWEL_COUNT * FINAL_COUNT;

const LEADING_FIRST: u32 = 0x1100;
const LEADING_LAST: u32 = 0x1112;
const VOWEL_FIRST: u32 = 0x1161;
const VOWEL_LAST: u32 = 0x1175;
/// U+11A7 is "no final"; real finals start one after it.
const FINAL_BASE: u32 = 0x11A7;
const FINAL_LAST: u32 = 0x11C2;

const COMPAT_CONSONANT_FIRST: u32 = 0x3131;
const COMPAT_CONSONANT_LAST: u32 = 0x314E;

/// The 19 initial consonants as compatibility jamo, in Unicode's initial order.
pub const INITIALS: [char; 19] = [
    'ㄱ', 'ㄲ', 'ㄴ', 'ㄷ', 'ㄸ', 'ㄹ', 'ㅁ', 'ㅂ', 'ㅃ', 'ㅅ', 'ㅆ', 'ㅇ', 'ㅈ', 'ㅉ', 'ㅊ', 'ㅋ',
    'ㅌ', 'ㅍ', 'ㅎ',
];

/// Returns the initial consonants of `text`, as es-hangul's `getChoseong` does.
///
/// - each precomposed syllable (U+AC00..=U+D7A3) gives its initial as a compatibility jamo,
///   double consonants kept (`까` → `ㄲ`);
/// - a conjoining initial (U+1100..=U+1112) gives its compatibility jamo, so decomposed (NFD)
///   syllables give the same result as composed ones; their vowels and finals are dropped;
/// - compatibility consonants (U+3131..=U+314E) pass through unchanged;
/// - whitespace ([`char::is_whitespace`]) is kept as it is;
/// - everything else is dropped: Latin, digits, punctuation, vowels, lone finals, archaic and
///   halfwidth jamo, emoji, ideographs.
///
/// The one difference from es-hangul is whitespace outside chat text: following
/// `char::is_whitespace`, U+0085 is kept and U+FEFF dropped, where es-hangul (JavaScript's `\s`
/// after NFD) drops U+0085, keeps U+FEFF, and turns U+2000 and U+2001 into U+2002 and U+2003.
pub fn chosung(text: &str) -> String {
    // Shaped for chat lines (a few dozen bytes), where each call's and each character's fixed
    // costs are the whole cost:
    // - one allocation of the input's length, which the output never outgrows (every kept
    //   character is copied or replaced by one of the same UTF-8 width), and no zero-fill;
    // - chars pushed onto a `String`, which stays valid as it grows: building bytes and then
    //   calling `String::from_utf8` would validate the whole output again in a second pass;
    // - UTF-8 sequences matched as byte slices, each arm checking the remaining length once,
    //   in the order of chat text: three-byte sequences (syllables, jamo) with syllables tested
    //   first, then the ASCII space, so the common characters take the fewest tests.
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_bytes();
    loop {
        match *rest {
            [first @ 0xE0..=0xEF, second, third, ref tail @ ..] => {
                rest = tail;
                let code = (u32::from(first & 0x0F) << 12)
                    | (u32::from(second & 0x3F) << 6)
                    | u32::from(third & 0x3F);
                if (SYLLABLE_FIRST..=SYLLABLE_LAST).contains(&code) {
                    out.push(INITIALS[((code - SYLLABLE_FIRST) / SYLLABLES_PER_INITIAL) as usize]);
                } else if let Some(c) = char::from_u32(code) {
                    if (COMPAT_CONSONANT_FIRST..=COMPAT_CONSONANT_LAST).contains(&code)
                        || c.is_whitespace()
                    {
                        out.push(c);
                    } else if (LEADING_FIRST..=LEADING_LAST).contains(&code) {
                        out.push(INITIALS[(code - LEADING_FIRST) as usize]);
                    }
                }
            }
            [b' ', ref tail @ ..] => {
                rest = tail;
                out.push(' ');
            }
            [byte @ 0..=0x7F, ref tail @ ..] => {
                rest = tail;
                if char::from(byte).is_whitespace() {
                    out.push(char::from(byte));
                }
            }
            [first @ 0xC0..=0xDF, second, ref tail @ ..] => {
                rest = tail;
                // U+0085 and U+00A0 are the only two-byte characters kept.
                let code = (u32::from(first & 0x1F) << 6) | u32::from(second & 0x3F);
                if let Some(c) = char::from_u32(code).filter(|c| c.is_whitespace()) {
                    out.push(c);
                }
            }
            // Four-byte characters (emoji, rare ideographs) are all dropped. `[_, ..]` is never
            // reached with a `&str`: no character starts with a continuation byte.
            [0xF0..=0xF7, _, _, _, ref tail @ ..] | [_, ref tail @ ..] => rest = tail,
            [] => return out,
        }
    }
}

/// Whether `c` is a precomposed modern Hangul syllable (U+AC00..=U+D7A3).
pub fn is_syllable(c: char) -> bool {
    (SYLLABLE_FIRST..=SYLLABLE_LAST).contains(&(c as u32))
}

/// Whether `text` is non-empty and made only of precomposed Hangul syllables.
///
/// ```
/// use quiz_core::hangul::is_complete_syllables;
///
/// assert!(is_complete_syllables("강아지"));
/// assert!(!is_complete_syllables("강ㅇ지"));
/// assert!(!is_complete_syllables(""));
/// ```
pub fn is_complete_syllables(text: &str) -> bool {
    !text.is_empty() && text.chars().all(is_syllable)
}

/// Composes conjoining jamo into precomposed syllables (the Hangul part of NFC).
///
/// A leading consonant followed by a vowel becomes a syllable, and a syllable without a final
/// followed by a final consonant takes it. Every other character is left as it is, so text that
/// is already composed comes back borrowed.
///
/// ```
/// use quiz_core::hangul::compose;
///
/// assert_eq!(compose("\u{1100}\u{1161}\u{11BC}"), "강");
/// assert_eq!(compose("강아지"), "강아지");
/// ```
pub fn compose(text: &str) -> Cow<'_, str> {
    if !text
        .chars()
        .any(|c| (LEADING_FIRST..=FINAL_LAST).contains(&(c as u32)))
    {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut pending: Option<char> = None;
    for c in text.chars() {
        let code = c as u32;
        if let Some(prev) = pending {
            let p = prev as u32;
            if (LEADING_FIRST..=LEADING_LAST).contains(&p)
                && (VOWEL_FIRST..=VOWEL_LAST).contains(&code)
            {
                let syllable = SYLLABLE_FIRST
                    + (p - LEADING_FIRST) * SYLLABLES_PER_INITIAL
                    + (code - VOWEL_FIRST) * FINAL_COUNT;
                pending = char::from_u32(syllable);
                continue;
            }
            if is_syllable(prev)
                && (p - SYLLABLE_FIRST) % FINAL_COUNT == 0
                && (FINAL_BASE + 1..=FINAL_LAST).contains(&code)
            {
                out.extend(char::from_u32(p + code - FINAL_BASE));
                pending = None;
                continue;
            }
            out.push(prev);
        }
        pending = Some(c);
    }
    out.extend(pending);
    Cow::Owned(out)
}

/// Decomposes precomposed syllables into conjoining jamo (the Hangul part of NFD).
///
/// The inverse of [`compose`] on syllables; mostly useful to test that decomposed input is
/// handled like composed input.
///
/// ```
/// use quiz_core::hangul::{compose, decompose};
///
/// assert_eq!(decompose("강"), "\u{1100}\u{1161}\u{11BC}");
/// assert_eq!(compose(&decompose("강아지")), "강아지");
/// ```
pub fn decompose(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for c in text.chars() {
        if !is_syllable(c) {
            out.push(c);
            continue;
        }
        let s = c as u32 - SYLLABLE_FIRST;
        let parts = [
            Some(LEADING_FIRST + s / SYLLABLES_PER_INITIAL),
            Some(VOWEL_FIRST + (s % SYLLABLES_PER_INITIAL) / FINAL_COUNT),
            (s % FINAL_COUNT != 0).then_some(FINAL_BASE + s % FINAL_COUNT),
        ];
        out.extend(parts.into_iter().flatten().filter_map(char::from_u32));
    }
    out
}

/// Number of precomposed syllables in `text`.
pub fn syllable_count(text: &str) -> usize {
    text.chars().filter(|&c| is_syllable(c)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_syllable_gives_one_of_the_nineteen_initials() {
        for code in SYLLABLE_FIRST..=SYLLABLE_LAST {
            let c = char::from_u32(code).unwrap();
            let pattern = chosung(&c.to_string());
            let mut chars = pattern.chars();
            let initial = chars.next().unwrap();
            assert!(chars.next().is_none());
            assert!(INITIALS.contains(&initial), "{c} gave {initial}");
        }
    }

    #[test]
    fn boundaries_of_the_syllable_block() {
        assert_eq!(chosung("\u{AC00}"), "ㄱ"); // 가
        assert_eq!(chosung("\u{D7A3}"), "ㅎ"); // 힣
        assert_eq!(chosung("\u{ABFF}\u{D7A4}"), "");
    }

    #[test]
    fn double_consonants_are_kept() {
        assert_eq!(chosung("까치 떡 빵 쌀 짜장"), "ㄲㅊ ㄸ ㅃ ㅆ ㅉㅈ");
    }

    #[test]
    fn whitespace_is_kept_as_is() {
        assert_eq!(chosung(" 강\t아\n지 "), " ㄱ\tㅇ\nㅈ ");
        assert_eq!(
            chosung("강\u{3000}아\u{00A0}지\u{0085}"),
            "ㄱ\u{3000}ㅇ\u{00A0}ㅈ\u{0085}"
        );
        assert_eq!(chosung("강\u{2028}지"), "ㄱ\u{2028}ㅈ");
    }

    #[test]
    fn everything_else_is_dropped() {
        assert_eq!(chosung("abc 123 !?"), "  ");
        assert_eq!(chosung("ㅏㅑㅗ"), ""); // compatibility vowels
        assert_eq!(chosung("😀강🐶아지🎉"), "ㄱㅇㅈ");
        assert_eq!(chosung("漢字강"), "ㄱ");
        assert_eq!(chosung("\u{FFA1}\u{FFA4}"), ""); // halfwidth jamo
        assert_eq!(chosung("\u{1113}\u{115F}\u{A960}"), ""); // archaic and filler initials
        assert_eq!(chosung("\u{11A8}\u{11BC}"), ""); // lone finals
        assert_eq!(chosung("\u{1161}"), ""); // lone conjoining vowel
        assert_eq!(chosung("㉠㈀"), ""); // enclosed jamo
        assert_eq!(chosung("é\u{0301}ß"), "");
    }

    #[test]
    fn compatibility_consonants_pass_through() {
        assert_eq!(chosung("ㄱㅇㅈ"), "ㄱㅇㅈ");
        assert_eq!(chosung("ㄳㅄㅀ"), "ㄳㅄㅀ");
        assert_eq!(chosung("ㅋㅋㅋ 웃겨"), "ㅋㅋㅋ ㅇㄱ");
    }

    #[test]
    fn conjoining_input_matches_composed_input() {
        let words = ["강아지", "빨간 사과", "닭", "힣", "가"];
        for word in words {
            assert_eq!(chosung(&decompose(word)), chosung(word), "{word}");
        }
        assert_eq!(chosung("\u{1100}"), "ㄱ");
        assert_eq!(chosung("\u{1112}\u{1175}"), "ㅎ");
    }

    #[test]
    fn mixed_adversarial_text() {
        let text = "ㅋㅋ강아지🐶는 cute! 「고양이」\u{1104}\u{1161}\u{11AB} 12ㅏ";
        assert_eq!(chosung(text), "ㅋㅋㄱㅇㅈㄴ  ㄱㅇㅇㄸ ");
    }

    #[test]
    fn compose_handles_syllables_with_and_without_finals() {
        assert_eq!(compose(&decompose("강아지")), "강아지");
        assert_eq!(compose("가\u{11BC}"), "강"); // syllable + final
        assert_eq!(compose("각\u{11BC}"), "각\u{11BC}"); // already has a final
        assert_eq!(compose("\u{1100}"), "\u{1100}");
        assert_eq!(compose("\u{1100}x\u{1161}"), "\u{1100}x\u{1161}");
        assert_eq!(compose("\u{11BC}"), "\u{11BC}");
        assert!(matches!(compose("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn decompose_then_compose_round_trips_every_syllable() {
        for code in SYLLABLE_FIRST..=SYLLABLE_LAST {
            let s = char::from_u32(code).unwrap().to_string();
            assert_eq!(compose(&decompose(&s)), s);
        }
    }

    #[test]
    fn complete_syllables() {
        assert!(is_complete_syllables("강아지"));
        assert!(!is_complete_syllables("강아지!"));
        assert!(!is_complete_syllables("강 아지"));
        assert!(!is_complete_syllables(&decompose("강")));
        assert_eq!(syllable_count("강아지 ㅋ"), 3);
    }
}
