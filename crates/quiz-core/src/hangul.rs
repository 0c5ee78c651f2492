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

/// The same 19 initials, UTF-8 encoded, so the hot loop copies bytes instead of encoding chars.
const INITIALS_UTF8: [[u8; 3]; 19] = {
    let mut table = [[0u8; 3]; 19];
    let mut i = 0;
    while i < 19 {
        let c = INITIALS[i] as u32;
        table[i] = [
            0xE0 | (c >> 12) as u8,
            0x80 | ((c >> 6) & 0x3F) as u8,
            0x80 | (c & 0x3F) as u8,
        ];
        i += 1;
    }
    table
};

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
    let bytes = text.as_bytes();
    // Every kept character is copied, or replaced by one of the same UTF-8 width (all Hangul
    // is three bytes), so the output never outgrows the input: one allocation, no growth checks.
    let mut out = vec![0u8; bytes.len()];
    let mut len = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            // ASCII: only the whitespace char::is_whitespace knows survives.
            out[len] = b;
            len += usize::from(matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' '));
            i += 1;
        } else if b & 0xF0 == 0xE0 {
            let (Some(&b1), Some(&b2)) = (bytes.get(i + 1), bytes.get(i + 2)) else {
                break; // unreachable for a &str
            };
            let c =
                (u32::from(b & 0x0F) << 12) | (u32::from(b1 & 0x3F) << 6) | u32::from(b2 & 0x3F);
            let kept = if let Some(index) = initial_index(c) {
                Some(INITIALS_UTF8[index])
            } else if (COMPAT_CONSONANT_FIRST..=COMPAT_CONSONANT_LAST).contains(&c)
                || is_non_ascii_whitespace(c)
            {
                Some([b, b1, b2])
            } else {
                None
            };
            if let (Some(encoded), Some(slot)) = (kept, out.get_mut(len..len + 3)) {
                slot.copy_from_slice(&encoded);
                len += 3;
            }
            i += 3;
        } else if b & 0xE0 == 0xC0 {
            // U+0085 and U+00A0 are the only two-byte whitespace characters.
            let Some(&b1) = bytes.get(i + 1) else { break };
            let c = (u32::from(b & 0x1F) << 6) | u32::from(b1 & 0x3F);
            if let (true, Some(slot)) = (is_non_ascii_whitespace(c), out.get_mut(len..len + 2)) {
                slot.copy_from_slice(&[b, b1]);
                len += 2;
            }
            i += 2;
        } else {
            i += utf8_width(b); // four-byte characters (emoji, rare ideographs) are dropped
        }
    }
    out.truncate(len);
    // Only whole UTF-8 sequences copied from a &str or the table above were written.
    String::from_utf8(out).unwrap_or_default()
}

/// Index into [`INITIALS`] of the initial that `c` contributes, for a syllable or a conjoining
/// initial.
fn initial_index(c: u32) -> Option<usize> {
    if (SYLLABLE_FIRST..=SYLLABLE_LAST).contains(&c) {
        Some(((c - SYLLABLE_FIRST) / SYLLABLES_PER_INITIAL) as usize)
    } else if (LEADING_FIRST..=LEADING_LAST).contains(&c) {
        Some((c - LEADING_FIRST) as usize)
    } else {
        None
    }
}

fn utf8_width(first: u8) -> usize {
    match first {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

fn is_non_ascii_whitespace(c: u32) -> bool {
    char::from_u32(c).is_some_and(char::is_whitespace)
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
