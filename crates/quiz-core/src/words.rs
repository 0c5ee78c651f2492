//! Word lists and the word bank: which words are questions, which are accepted answers.
//!
//! Word lists are data (`fixtures/words/*.txt`): UTF-8, one word per line, `#` starts a comment,
//! blank lines are ignored. Parsing validates every line and names the file and line of the
//! first problem, so a bad edit to a list is caught when it loads, not in the middle of a game.
//!
//! ```
//! use quiz_core::words::{parse_word_list, WordBank};
//!
//! let questions = parse_word_list("animals.txt", "# animals\n강아지\n고양이\n").unwrap();
//! let dictionary = parse_word_list("extra.txt", "거위\n가위\n").unwrap();
//! let bank = WordBank::new(questions, dictionary).unwrap();
//!
//! assert!(bank.is_answer("ㄱㅇ", "가위"));
//! assert_eq!(bank.answer_count("ㄱㅇ"), 2); // 가위, 거위
//! assert_eq!(bank.answer_count("ㄱㅇㅈ"), 1); // 강아지
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use crate::hangul::{chosung, compose, is_complete_syllables, syllable_count};

/// Why a word list was refused; each variant names the list and the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WordListError {
    #[error("{source_name}:{line}: {word:?} is not made only of complete Hangul syllables (가-힣); remove the other characters or the line")]
    NotSyllables {
        source_name: String,
        line: usize,
        word: String,
    },
    #[error("{source_name}:{line}: {word:?} has one syllable; words need at least two")]
    TooShort {
        source_name: String,
        line: usize,
        word: String,
    },
    #[error("{source_name}:{line}: {word:?} is listed twice (first at {first}); remove one")]
    Duplicate {
        source_name: String,
        line: usize,
        word: String,
        first: String,
    },
    #[error("the question lists hold no words; a game needs at least one question")]
    NoQuestions,
}

/// One word of a list, with where it came from for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedWord {
    pub word: String,
    /// Shared by every word of one list.
    pub source_name: Arc<str>,
    pub line: usize,
}

/// Parses one word list. `source_name` is only used in error messages (a file name).
///
/// Lines are trimmed and composed (decomposed jamo become syllables); a `#` starts a comment
/// anywhere on a line.
pub fn parse_word_list(source_name: &str, text: &str) -> Result<Vec<ListedWord>, WordListError> {
    let shared: Arc<str> = Arc::from(source_name);
    let mut words = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let content = raw.split('#').next().unwrap_or_default().trim();
        if content.is_empty() {
            continue;
        }
        let word = compose(content).into_owned();
        if !is_complete_syllables(&word) {
            return Err(WordListError::NotSyllables {
                source_name: source_name.to_owned(),
                line,
                word,
            });
        }
        if syllable_count(&word) < 2 {
            return Err(WordListError::TooShort {
                source_name: source_name.to_owned(),
                line,
                word,
            });
        }
        words.push(ListedWord {
            word,
            source_name: shared.clone(),
            line,
        });
    }
    let mut first_lines: HashMap<&str, usize> = HashMap::with_capacity(words.len());
    for listed in &words {
        if let Some(first) = first_lines.insert(&listed.word, listed.line) {
            return Err(WordListError::Duplicate {
                source_name: source_name.to_owned(),
                line: listed.line,
                word: listed.word.clone(),
                first: format!("{source_name}:{first}"),
            });
        }
    }
    Ok(words)
}

/// A list of words that is either borrowed from tables compiled into the binary or built at
/// run time, with one type for both.
type Words = Cow<'static, [Cow<'static, str>]>;

/// Answer counts per pattern, sorted by pattern; borrowed or built like [`Words`].
type PatternCounts = Cow<'static, [(Cow<'static, str>, u32)]>;

/// The words of a game: questions to draw, and every word accepted as an answer.
///
/// Answers and their patterns are kept in sorted tables, so "is this word an answer to
/// pattern P" and "how many answers does P have" are binary searches, and the shipped lists can
/// be indexed when the crate is compiled ([`crate::builtin`]) instead of at every cold start.
/// Every question is also an answer.
#[derive(Debug, Clone)]
pub struct WordBank {
    questions: Words,
    /// Sorted, no repeats.
    answers: Words,
    /// Sorted by pattern; every pattern of `answers`, with how many answers fit it.
    answers_per_pattern: PatternCounts,
}

impl WordBank {
    /// Builds a bank from question words and extra dictionary words.
    ///
    /// A word may appear in both; a word repeated across question lists is refused, since the
    /// deck would draw it twice.
    pub fn new(
        questions: impl IntoIterator<Item = ListedWord>,
        dictionary: impl IntoIterator<Item = ListedWord>,
    ) -> Result<Self, WordListError> {
        let questions: Vec<ListedWord> = questions.into_iter().collect();
        let mut question_origin: HashMap<&str, &ListedWord> =
            HashMap::with_capacity(questions.len());
        for listed in &questions {
            if let Some(first) = question_origin.insert(&listed.word, listed) {
                return Err(WordListError::Duplicate {
                    source_name: listed.source_name.to_string(),
                    line: listed.line,
                    word: listed.word.clone(),
                    first: format!("{}:{}", first.source_name, first.line),
                });
            }
        }
        drop(question_origin);
        if questions.is_empty() {
            return Err(WordListError::NoQuestions);
        }
        let question_words: Vec<Cow<'static, str>> = questions
            .iter()
            .map(|w| Cow::Owned(w.word.clone()))
            .collect();
        let mut answers: Vec<Cow<'static, str>> = questions
            .into_iter()
            .chain(dictionary)
            .map(|listed| Cow::Owned(listed.word))
            .collect();
        answers.sort_unstable();
        answers.dedup();
        let mut patterns: Vec<String> = answers.iter().map(|word| chosung(word)).collect();
        patterns.sort_unstable();
        let mut answers_per_pattern: Vec<(Cow<'static, str>, u32)> = Vec::new();
        for pattern in patterns {
            match answers_per_pattern.last_mut() {
                Some((last, count)) if *last == pattern => *count += 1,
                _ => answers_per_pattern.push((Cow::Owned(pattern), 1)),
            }
        }
        Ok(WordBank {
            questions: Cow::Owned(question_words),
            answers: Cow::Owned(answers),
            answers_per_pattern: Cow::Owned(answers_per_pattern),
        })
    }

    /// A bank over tables a previous [`WordBank::new`] produced, as [`crate::builtin`] embeds
    /// them (see [`WordBank::tables_source`]); the caller keeps them sorted as
    /// [`WordBank::answers`] and [`WordBank::answers_per_pattern`] return them. Tables out of
    /// order only make lookups miss.
    pub const fn from_tables(
        questions: &'static [Cow<'static, str>],
        answers: &'static [Cow<'static, str>],
        answers_per_pattern: &'static [(Cow<'static, str>, u32)],
    ) -> Self {
        WordBank {
            questions: Cow::Borrowed(questions),
            answers: Cow::Borrowed(answers),
            answers_per_pattern: Cow::Borrowed(answers_per_pattern),
        }
    }

    /// Rust source declaring this bank's tables as `static QUESTIONS`, `ANSWERS` and `PATTERNS`
    /// (with `std::borrow::Cow` in scope), for a build script to write into `OUT_DIR`: the
    /// crate that includes it gets the bank back with [`WordBank::from_tables`], and a cold
    /// start indexes nothing.
    pub fn tables_source(&self) -> String {
        use std::fmt::Write as _;

        let mut out = String::new();
        for (name, words) in [("QUESTIONS", self.questions()), ("ANSWERS", self.answers())] {
            let _ = writeln!(
                out,
                "static {name}: [Cow<'static, str>; {}] = [",
                words.len()
            );
            for word in words {
                let _ = writeln!(out, "Cow::Borrowed({word:?}),");
            }
            out.push_str("];\n");
        }
        let patterns = self.answers_per_pattern();
        let _ = writeln!(
            out,
            "static PATTERNS: [(Cow<'static, str>, u32); {}] = [",
            patterns.len()
        );
        for (pattern, count) in patterns {
            let _ = writeln!(out, "(Cow::Borrowed({pattern:?}), {count}),");
        }
        out.push_str("];\n");
        out
    }

    /// The words questions are drawn from, in list order.
    pub fn questions(&self) -> &[Cow<'static, str>] {
        &self.questions
    }

    /// Every accepted answer, sorted (by code point), each once.
    pub fn answers(&self) -> &[Cow<'static, str>] {
        &self.answers
    }

    /// Every pattern that has an answer, sorted, with how many answers fit it.
    pub fn answers_per_pattern(&self) -> &[(Cow<'static, str>, u32)] {
        &self.answers_per_pattern
    }

    /// Whether `word` (already normalized) is in the bank and fits `pattern`.
    pub fn is_answer(&self, pattern: &str, word: &str) -> bool {
        chosung(word) == pattern && self.contains(word)
    }

    /// Whether `word` (already normalized) is in the bank at all.
    pub fn contains(&self, word: &str) -> bool {
        self.answers
            .binary_search_by(|answer| answer.as_ref().cmp(word))
            .is_ok()
    }

    /// How many words in the bank fit `pattern`.
    pub fn answer_count(&self, pattern: &str) -> u32 {
        self.answers_per_pattern
            .binary_search_by(|(known, _)| known.as_ref().cmp(pattern))
            .map_or(0, |found| self.answers_per_pattern[found].1)
    }

    /// Number of distinct accepted answers.
    pub fn answer_total(&self) -> usize {
        self.answers.len()
    }
}

/// Turns chat text into the form answers are compared in: composed (NFC), with all whitespace
/// removed, so `" 강 아지 "` and a decomposed `강아지` both become `강아지`.
///
/// ```
/// assert_eq!(quiz_core::words::normalize_answer(" 강 아지\n"), "강아지");
/// ```
pub fn normalize_answer(text: &str) -> String {
    compose(text)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hangul::decompose;

    fn list(text: &str) -> Vec<ListedWord> {
        parse_word_list("test.txt", text).unwrap()
    }

    #[test]
    fn comments_blank_lines_and_spaces_are_ignored() {
        let words = list("# header\n\n  강아지  # a dog\n고양이\n   \n");
        let plain: Vec<_> = words.iter().map(|w| w.word.as_str()).collect();
        assert_eq!(plain, ["강아지", "고양이"]);
        assert_eq!(words[1].line, 4);
    }

    #[test]
    fn decomposed_lines_are_composed() {
        let words = list(&decompose("강아지"));
        assert_eq!(words[0].word, "강아지");
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let err = parse_word_list("a.txt", "강아지\ndog\n").unwrap_err();
        assert_eq!(
            err,
            WordListError::NotSyllables {
                source_name: "a.txt".into(),
                line: 2,
                word: "dog".into()
            }
        );
        assert!(err.to_string().starts_with("a.txt:2:"));

        let err = parse_word_list("a.txt", "강아지\n\n개\n").unwrap_err();
        assert!(matches!(err, WordListError::TooShort { line: 3, .. }));

        let err = parse_word_list("a.txt", "강아지\n고양이\n강아지\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "a.txt:3: \"강아지\" is listed twice (first at a.txt:1); remove one"
        );

        let err = parse_word_list("a.txt", "강 아지\n").unwrap_err();
        assert!(matches!(err, WordListError::NotSyllables { line: 1, .. }));
    }

    #[test]
    fn duplicates_across_question_lists_are_refused() {
        let a = parse_word_list("a.txt", "강아지\n").unwrap();
        let b = parse_word_list("b.txt", "고양이\n강아지\n").unwrap();
        let err = WordBank::new(a.into_iter().chain(b), []).unwrap_err();
        assert_eq!(
            err.to_string(),
            "b.txt:2: \"강아지\" is listed twice (first at a.txt:1); remove one"
        );
    }

    #[test]
    fn a_bank_needs_questions() {
        assert_eq!(
            WordBank::new([], list("강아지\n")).unwrap_err(),
            WordListError::NoQuestions
        );
    }

    #[test]
    fn answers_are_indexed_by_pattern() {
        let bank = WordBank::new(list("사람\n"), list("사랑\n서랍\n소리\n사람\n")).unwrap();
        assert_eq!(bank.answer_count("ㅅㄹ"), 4);
        assert_eq!(bank.answer_total(), 4);
        assert!(bank.is_answer("ㅅㄹ", "서랍"));
        assert!(!bank.is_answer("ㅅㄹㅁ", "서랍"));
        assert!(!bank.is_answer("ㅅㄹ", "사리"));
        assert_eq!(bank.answer_count("ㅎㅎ"), 0);
        assert_eq!(bank.questions().len(), 1);
        let answers: Vec<&str> = bank.answers().iter().map(|w| w.as_ref()).collect();
        assert_eq!(answers, ["사람", "사랑", "서랍", "소리"]);
        assert_eq!(bank.answers_per_pattern(), [("ㅅㄹ".into(), 4)]);
    }

    #[test]
    fn normalize_removes_all_whitespace_and_composes() {
        assert_eq!(normalize_answer("\t강 아 지 "), "강아지");
        assert_eq!(normalize_answer(&decompose("강아지")), "강아지");
        assert_eq!(normalize_answer("강\u{3000}아지"), "강아지");
        assert_eq!(normalize_answer("강아지🐶"), "강아지🐶");
    }
}
