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
use std::collections::{HashMap, HashSet};
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
    #[error("{source_name}: theme id {id:?} (the file name) must be lowercase letters, digits, '-' or '_', and not \"all\"; rename the file")]
    BadThemeId { source_name: String, id: String },
    #[error("{source_name}: another question list is also named {id:?}; themes need distinct file names")]
    DuplicateTheme { source_name: String, id: String },
}

/// One word of a list, with where it came from for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedWord {
    pub word: String,
    /// Shared by every word of one list.
    pub source_name: Arc<str>,
    pub line: usize,
    /// The list's first comment line, without a trailing `(…)` note: `# 음식 (food)` gives
    /// `음식`. A question list's title is its theme's display name.
    pub list_title: Option<Arc<str>>,
}

/// Parses one word list. `source_name` is only used in error messages (a file name).
///
/// Lines are trimmed and composed (decomposed jamo become syllables); a `#` starts a comment
/// anywhere on a line.
pub fn parse_word_list(source_name: &str, text: &str) -> Result<Vec<ListedWord>, WordListError> {
    let shared: Arc<str> = Arc::from(source_name);
    let title: Option<Arc<str>> = list_title(text).map(Arc::from);
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
            list_title: title.clone(),
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

/// The theme id that stands for every question list.
pub const ALL_THEMES: &str = "all";

/// In [`BankTables::pattern_order`], the bit that marks a curated word (a question).
const CURATED: u32 = 1 << 31;

/// A theme: one question list, whose file name is its id (`food.txt` is `food`) and whose
/// first comment line is its display name (`# 음식 (food)` is `음식`). Its questions are
/// `questions[start..end]` of the bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    pub id: Cow<'static, str>,
    pub name: Cow<'static, str>,
    pub start: u32,
    pub end: u32,
}

impl Theme {
    /// How many questions the theme has.
    pub fn question_count(&self) -> u32 {
        self.end.saturating_sub(self.start)
    }
}

/// A bank's tables as [`WordBank::tables_source`] writes them, for [`WordBank::from_tables`].
#[derive(Debug)]
pub struct BankTables {
    pub questions: &'static [Cow<'static, str>],
    pub answers: &'static [Cow<'static, str>],
    pub answers_per_pattern: &'static [(Cow<'static, str>, u32)],
    pub themes: &'static [Theme],
    /// Indices into `answers`, sorted by pattern, then curated words (flagged by the top bit)
    /// before the rest, then by word.
    pub pattern_order: &'static [u32],
}

/// The words of a game: questions to draw, and every word accepted as an answer.
///
/// Answers and their patterns are kept in sorted tables, so "is this word an answer to
/// pattern P" and "how many answers does P have" are binary searches, and the shipped lists can
/// be indexed when the crate is compiled ([`crate::builtin`]) instead of at every cold start.
/// Every question is also an answer. Each question list is a [`Theme`].
#[derive(Debug, Clone)]
pub struct WordBank {
    questions: Words,
    /// Sorted, no repeats.
    answers: Words,
    /// Sorted by pattern; every pattern of `answers`, with how many answers fit it.
    answers_per_pattern: PatternCounts,
    /// In question order, one per list.
    themes: Cow<'static, [Theme]>,
    /// See [`BankTables::pattern_order`].
    pattern_order: Cow<'static, [u32]>,
}

impl WordBank {
    /// Builds a bank from question words and extra dictionary words.
    ///
    /// A word may appear in both; a word repeated across question lists is refused, since the
    /// deck would draw it twice. Each run of questions from one list (`source_name`) is a
    /// theme, named by the list's file stem; two lists with the same stem are refused.
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
        let themes = themes_of(&questions)?;
        let question_words: Vec<Cow<'static, str>> = questions
            .iter()
            .map(|w| Cow::Owned(w.word.clone()))
            .collect();
        let curated: HashSet<&str> = questions.iter().map(|w| w.word.as_str()).collect();
        let mut answers: Vec<String> = questions
            .iter()
            .map(|listed| listed.word.clone())
            .chain(dictionary.into_iter().map(|listed| listed.word))
            .collect();
        answers.sort_unstable();
        answers.dedup();
        let patterns: Vec<String> = answers.iter().map(|word| chosung(word)).collect();
        let mut order: Vec<u32> = (0..answers.len())
            .map(|i| {
                let flag = if curated.contains(answers[i].as_str()) {
                    CURATED
                } else {
                    0
                };
                u32::try_from(i).unwrap_or(u32::MAX >> 1) | flag
            })
            .collect();
        order.sort_by(|a, b| {
            let (i, j) = ((a & !CURATED) as usize, (b & !CURATED) as usize);
            patterns[i]
                .cmp(&patterns[j])
                .then((b & CURATED).cmp(&(a & CURATED)))
                .then(answers[i].cmp(&answers[j]))
        });
        let mut answers_per_pattern: Vec<(Cow<'static, str>, u32)> = Vec::new();
        for &entry in &order {
            let pattern = &patterns[(entry & !CURATED) as usize];
            match answers_per_pattern.last_mut() {
                Some((last, count)) if last == pattern => *count += 1,
                _ => answers_per_pattern.push((Cow::Owned(pattern.clone()), 1)),
            }
        }
        drop(curated);
        Ok(WordBank {
            questions: Cow::Owned(question_words),
            answers: Cow::Owned(answers.into_iter().map(Cow::Owned).collect()),
            answers_per_pattern: Cow::Owned(answers_per_pattern),
            themes: Cow::Owned(themes),
            pattern_order: Cow::Owned(order),
        })
    }

    /// A bank over tables a previous [`WordBank::new`] produced, as [`crate::builtin`] embeds
    /// them (see [`WordBank::tables_source`]); the caller keeps them sorted as
    /// [`WordBank::answers`] and [`WordBank::answers_per_pattern`] return them. Tables out of
    /// order only make lookups miss.
    pub const fn from_tables(tables: &'static BankTables) -> Self {
        WordBank {
            questions: Cow::Borrowed(tables.questions),
            answers: Cow::Borrowed(tables.answers),
            answers_per_pattern: Cow::Borrowed(tables.answers_per_pattern),
            themes: Cow::Borrowed(tables.themes),
            pattern_order: Cow::Borrowed(tables.pattern_order),
        }
    }

    /// Rust source declaring this bank's tables as `static TABLES: BankTables` (with
    /// `std::borrow::Cow`, `BankTables` and `Theme` in scope), for a build script to write
    /// into `OUT_DIR`: the crate that includes it gets the bank back with
    /// [`WordBank::from_tables`], and a cold start indexes nothing.
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
        let _ = writeln!(out, "static THEMES: [Theme; {}] = [", self.themes.len());
        for theme in self.themes() {
            let _ = writeln!(
                out,
                "Theme {{ id: Cow::Borrowed({:?}), name: Cow::Borrowed({:?}), start: {}, end: {} }},",
                theme.id, theme.name, theme.start, theme.end
            );
        }
        out.push_str("];\n");
        let _ = writeln!(
            out,
            "static PATTERN_ORDER: [u32; {}] = [",
            self.pattern_order.len()
        );
        for chunk in self.pattern_order.chunks(16) {
            for entry in chunk {
                let _ = write!(out, "{entry},");
            }
            out.push('\n');
        }
        out.push_str("];\n");
        out.push_str(
            "static TABLES: BankTables = BankTables { questions: &QUESTIONS, answers: &ANSWERS, \
             answers_per_pattern: &PATTERNS, themes: &THEMES, pattern_order: &PATTERN_ORDER };\n",
        );
        out
    }

    /// The words questions are drawn from, in list order.
    pub fn questions(&self) -> &[Cow<'static, str>] {
        &self.questions
    }

    /// The question lists, in question order.
    pub fn themes(&self) -> &[Theme] {
        &self.themes
    }

    /// The theme with this id; `None` for [`ALL_THEMES`] and unknown ids.
    pub fn theme(&self, id: &str) -> Option<&Theme> {
        self.themes.iter().find(|theme| theme.id == id)
    }

    /// Whether `id` names a theme of this bank or is [`ALL_THEMES`].
    pub fn has_theme(&self, id: &str) -> bool {
        id == ALL_THEMES || self.theme(id).is_some()
    }

    /// Where a theme's questions start in [`WordBank::questions`], and the questions: all of
    /// them for [`ALL_THEMES`] or an id this bank does not know (a list removed since a room
    /// chose it).
    pub fn theme_questions(&self, id: &str) -> (usize, &[Cow<'static, str>]) {
        match self.theme(id) {
            Some(theme) => {
                let (start, end) = (theme.start as usize, theme.end as usize);
                match self.questions.get(start..end) {
                    Some(questions) if !questions.is_empty() => (start, questions),
                    _ => (0, &self.questions),
                }
            }
            None => (0, &self.questions),
        }
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

    /// Up to `limit` words that fit `pattern` other than `except`: curated words (questions)
    /// first, then the dictionary's, each in code-point order, so a pattern always shows the
    /// same ones.
    ///
    /// ```
    /// use quiz_core::words::{parse_word_list, WordBank};
    ///
    /// let questions = parse_word_list("q.txt", "가위\n").unwrap();
    /// let dictionary = parse_word_list("d.txt", "거위\n").unwrap();
    /// let bank = WordBank::new(questions, dictionary).unwrap();
    /// assert_eq!(bank.other_answers("ㄱㅇ", "거위", 5), ["가위"]);
    /// assert_eq!(bank.other_answers("ㄱㅇ", "없다", 5), ["가위", "거위"]);
    /// ```
    pub fn other_answers(&self, pattern: &str, except: &str, limit: usize) -> Vec<&str> {
        let word_at = |entry: u32| self.answers.get((entry & !CURATED) as usize);
        let start = self.pattern_order.partition_point(|&entry| {
            word_at(entry).is_some_and(|word| chosung(word).as_str() < pattern)
        });
        let count = self.answer_count(pattern) as usize;
        self.pattern_order
            .iter()
            .skip(start)
            .take(count)
            .filter_map(|&entry| word_at(entry))
            .map(|word| word.as_ref())
            .filter(|word| *word != except)
            .take(limit)
            .collect()
    }

    /// Number of distinct accepted answers.
    pub fn answer_total(&self) -> usize {
        self.answers.len()
    }
}

/// A list's title: its first comment line, without a trailing `(…)` note.
fn list_title(text: &str) -> Option<String> {
    let line = text.lines().map(str::trim).find(|line| !line.is_empty())?;
    let comment = line.strip_prefix('#')?.trim();
    let title = match comment
        .strip_suffix(')')
        .and_then(|c| c.rfind('(').map(|at| &c[..at]))
    {
        Some(before) if !before.trim().is_empty() => before.trim(),
        _ => comment,
    };
    (!title.is_empty()).then(|| title.to_owned())
}

/// A theme id from a list's name: the file name without folders and `.txt`.
fn theme_id(source_name: &str) -> &str {
    let file = source_name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(source_name);
    file.strip_suffix(".txt").unwrap_or(file)
}

/// One theme per run of questions from the same list.
fn themes_of(questions: &[ListedWord]) -> Result<Vec<Theme>, WordListError> {
    let mut themes: Vec<Theme> = Vec::new();
    let mut last_source: Option<&Arc<str>> = None;
    for (index, listed) in questions.iter().enumerate() {
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        if last_source == Some(&listed.source_name) {
            if let Some(theme) = themes.last_mut() {
                theme.end = index + 1;
            }
            continue;
        }
        last_source = Some(&listed.source_name);
        let id = theme_id(&listed.source_name);
        let valid = !id.is_empty()
            && id != ALL_THEMES
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !valid {
            return Err(WordListError::BadThemeId {
                source_name: listed.source_name.to_string(),
                id: id.to_owned(),
            });
        }
        if themes.iter().any(|theme| theme.id == id) {
            return Err(WordListError::DuplicateTheme {
                source_name: listed.source_name.to_string(),
                id: id.to_owned(),
            });
        }
        themes.push(Theme {
            id: Cow::Owned(id.to_owned()),
            name: Cow::Owned(listed.list_title.as_deref().unwrap_or(id).to_owned()),
            start: index,
            end: index + 1,
        });
    }
    Ok(themes)
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
