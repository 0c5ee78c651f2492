//! Settings from the environment, and loading word lists from disk.
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `USER_TABLE`, `CHAT_TABLE`, `GAME_TABLE`, `REPORT_TABLE` | table names | `User`, `Chat`, `Game`, `Report` |
//! | `DYNAMODB_ENDPOINT` | DynamoDB endpoint (DynamoDB Local) | the AWS chain |
//! | `APIGW_MANAGEMENT_ENDPOINT` | `@connections` endpoint | `https://{domainName}/{stage}` of the event |
//! | `ROUND_SECS` | seconds per round | 60 |
//! | `WORDS_PATH` | a word-list file or directory | the shipped lists, compiled in |
//! | `RATE_LIMIT_BURST` | messages a connection may send at once | 10 |
//! | `RATE_LIMIT_PER_SEC` | messages per second a connection may keep sending | 3 |
//! | `TIMER_QUEUE_URL` | the SQS queue that carries the rounds' timers | none: rounds advance only when players send messages |
//! | `REPORT_TABLE` | the table word reports are written to | `Report` |
//! | `WEEK_STARTS` | when the weekly ranking starts over: a weekday, a time and a UTC offset | `monday 00:00 +09:00` |

use std::path::{Path, PathBuf};

use quiz_core::game::{GameConfig, Rules};
use quiz_core::ranking::WeekStart;
use quiz_core::words::{parse_word_list, ListedWord, WordBank, WordListError};
use quiz_store::MessageRate;

/// Messages a connection may send at once before the limit applies.
pub const DEFAULT_RATE_BURST: u32 = 10;
/// Messages per second a connection may keep sending.
pub const DEFAULT_RATE_PER_SEC: f64 = 3.0;

/// Why the configuration could not be used; the message names the variable or file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}={value:?} is not valid: {expected}")]
    Invalid {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("cannot read word list {path}: {source}")]
    ReadWords {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no word lists (*.txt) found in {0}")]
    NoWordLists(PathBuf),
    #[error(transparent)]
    Words(#[from] WordListError),
}

/// The adapter's settings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Config {
    /// Overrides the management endpoint derived from each event.
    pub management_endpoint: Option<String>,
    /// Seconds per round.
    pub round_secs: Option<u64>,
    /// A word-list file or directory instead of the shipped lists.
    pub words_path: Option<PathBuf>,
    /// The SQS queue for timers ([`crate::timers::SqsTimers`]).
    pub timer_queue_url: Option<String>,
    /// The per-connection message limit's burst ([`DEFAULT_RATE_BURST`] if unset).
    pub rate_burst: Option<u32>,
    /// The per-connection message limit's sustained rate ([`DEFAULT_RATE_PER_SEC`] if unset).
    pub rate_per_sec: Option<f64>,
    /// When the weekly ranking starts over (Monday 00:00 in Korea if unset).
    pub week_start: Option<WeekStart>,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let round_secs = match var("ROUND_SECS") {
            None => None,
            Some(value) => Some(parse_round_secs(&value).ok_or(ConfigError::Invalid {
                name: "ROUND_SECS",
                value,
                expected: "a whole number of seconds from 1 to 3600",
            })?),
        };
        let rate_burst = match var("RATE_LIMIT_BURST") {
            None => None,
            Some(value) => Some(parse_rate_burst(&value).ok_or(ConfigError::Invalid {
                name: "RATE_LIMIT_BURST",
                value,
                expected: "a whole number of messages from 1 to 1000",
            })?),
        };
        let rate_per_sec = match var("RATE_LIMIT_PER_SEC") {
            None => None,
            Some(value) => Some(parse_rate_per_sec(&value).ok_or(ConfigError::Invalid {
                name: "RATE_LIMIT_PER_SEC",
                value,
                expected: "messages per second, more than 0 and at most 1000 (e.g. 3 or 0.5)",
            })?),
        };
        let week_start = match var("WEEK_STARTS") {
            None => None,
            Some(value) => Some(parse_week_start(&value).ok_or(ConfigError::Invalid {
                name: "WEEK_STARTS",
                value,
                expected: "a weekday, a time and a UTC offset, e.g. \"monday 00:00 +09:00\"",
            })?),
        };
        Ok(Config {
            management_endpoint: var("APIGW_MANAGEMENT_ENDPOINT"),
            round_secs,
            words_path: var("WORDS_PATH").map(PathBuf::from),
            timer_queue_url: var("TIMER_QUEUE_URL"),
            rate_burst,
            rate_per_sec,
            week_start,
        })
    }

    /// The game rules these settings describe (reads the word lists if a path is set).
    pub fn rules(&self) -> Result<Rules, ConfigError> {
        let bank = match &self.words_path {
            // The deployed game accepts any dictionary noun (GPL-3.0-or-later data; see
            // the quiz-dictionary crate).
            None => quiz_dictionary::word_bank(),
            Some(path) => load_word_bank(path)?,
        };
        let mut game = GameConfig::default();
        if let Some(secs) = self.round_secs {
            game.round_ms = secs * 1_000;
        }
        if let Some(week) = self.week_start {
            game.week = week;
        }
        Ok(Rules::new(bank, game))
    }
}

impl Config {
    /// The per-connection message limit these settings describe.
    pub fn message_rate(&self) -> MessageRate {
        MessageRate::new(
            self.rate_burst.unwrap_or(DEFAULT_RATE_BURST),
            self.rate_per_sec.unwrap_or(DEFAULT_RATE_PER_SEC),
        )
    }
}

/// Parses when a ranking week begins: `monday 00:00 +09:00` (a weekday in English, full or
/// its first three letters, any case; a 24-hour time; an offset from UTC).
///
/// ```
/// use quiz_lambda::config::parse_week_start;
/// let week = parse_week_start("Sun 18:30 -05:00").unwrap();
/// assert_eq!((week.weekday, week.minute_of_day, week.utc_offset_minutes), (6, 18 * 60 + 30, -300));
/// assert!(parse_week_start("someday 00:00 +09:00").is_none());
/// ```
pub fn parse_week_start(value: &str) -> Option<WeekStart> {
    const DAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let mut parts = value.split_whitespace();
    let (day, time, offset) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let day = day.to_ascii_lowercase();
    let weekday = DAYS
        .iter()
        .position(|name| *name == day || (day.len() == 3 && name.starts_with(&day)))?;
    let clock = |text: &str| -> Option<(u16, u16)> {
        let (hours, minutes) = text.split_once(':')?;
        let (hours, minutes) = (hours.parse::<u16>().ok()?, minutes.parse::<u16>().ok()?);
        (hours < 24 && minutes < 60 && text.len() == 5).then_some((hours, minutes))
    };
    let (hours, minutes) = clock(time)?;
    let (sign, offset) = match offset.split_at_checked(1)? {
        ("+", rest) => (1, rest),
        ("-", rest) => (-1, rest),
        _ => return None,
    };
    let (offset_hours, offset_minutes) = clock(offset)?;
    if offset_hours > 14 {
        return None;
    }
    Some(WeekStart {
        weekday: u8::try_from(weekday).ok()?,
        minute_of_day: hours * 60 + minutes,
        utc_offset_minutes: sign * i16::try_from(offset_hours * 60 + offset_minutes).ok()?,
    })
}

/// Parses a message limit's burst: 1 to 1000 messages.
pub fn parse_rate_burst(value: &str) -> Option<u32> {
    value
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|burst| (1..=1_000).contains(burst))
}

/// Parses a message limit's sustained rate: more than 0, at most 1000 per second.
pub fn parse_rate_per_sec(value: &str) -> Option<f64> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|rate| rate.is_finite() && *rate > 0.0 && *rate <= 1_000.0)
}

/// Parses a round length: 1 second to an hour.
pub fn parse_round_secs(value: &str) -> Option<u64> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|secs| (1..=3_600).contains(secs))
}

/// Loads a word bank from a file (questions only) or a directory: its `*.txt` files are the
/// questions and the `*.txt` files of its `dictionary/` folder, if any, are extra accepted
/// answers (`fixtures/words/` holds questions only; the shipped dictionary is the
/// `quiz-dictionary` crate's `words/`).
pub fn load_word_bank(path: &Path) -> Result<WordBank, ConfigError> {
    if path.is_file() {
        return Ok(WordBank::new(read_list(path)?, [])?);
    }
    let questions = read_dir_lists(path)?;
    if questions.is_empty() {
        return Err(ConfigError::NoWordLists(path.to_owned()));
    }
    let dictionary_dir = path.join("dictionary");
    let dictionary = if dictionary_dir.is_dir() {
        read_dir_lists(&dictionary_dir)?
    } else {
        Vec::new()
    };
    Ok(WordBank::new(questions, dictionary)?)
}

fn read_dir_lists(dir: &Path) -> Result<Vec<ListedWord>, ConfigError> {
    let read_err = |source| ConfigError::ReadWords {
        path: dir.to_owned(),
        source,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_err)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|ext| ext == "txt"))
        .collect();
    files.sort();
    let mut words = Vec::new();
    for file in files {
        words.extend(read_list(&file)?);
    }
    Ok(words)
}

fn read_list(path: &Path) -> Result<Vec<ListedWord>, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadWords {
        path: path.to_owned(),
        source,
    })?;
    Ok(parse_word_list(&path.display().to_string(), &text)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_secs_must_be_sane() {
        assert_eq!(parse_round_secs("60"), Some(60));
        assert_eq!(parse_round_secs(" 5 "), Some(5));
        assert_eq!(parse_round_secs("0"), None);
        assert_eq!(parse_round_secs("-3"), None);
        assert_eq!(parse_round_secs("ten"), None);
        assert_eq!(parse_round_secs("100000"), None);
    }

    #[test]
    fn message_limits_must_be_sane() {
        assert_eq!(parse_rate_burst("10"), Some(10));
        assert_eq!(parse_rate_burst("0"), None);
        assert_eq!(parse_rate_burst("1001"), None);
        assert_eq!(parse_rate_per_sec("0.5"), Some(0.5));
        assert_eq!(parse_rate_per_sec("0"), None);
        assert_eq!(parse_rate_per_sec("NaN"), None);
        assert_eq!(parse_rate_per_sec("inf"), None);
        let defaults = Config::default().message_rate();
        assert_eq!(defaults, MessageRate::new(10, 3.0));
    }

    #[test]
    fn the_shipped_directory_loads_like_the_compiled_in_lists() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/words");
        let bank = load_word_bank(&dir).unwrap();
        let builtin = quiz_core::builtin::word_bank();
        assert_eq!(bank.questions().len(), builtin.questions().len());
        assert_eq!(bank.answer_total(), builtin.answer_total());
    }

    /// The bootstrap and quiz-local build their rules here: with no word path they accept the
    /// curated words and the dictionary's, which quiz-core alone does not.
    #[test]
    fn the_deployed_word_bank_accepts_dictionary_words() {
        let rules = Config::default().rules().unwrap();
        let bank = &rules.bank;
        assert!(bank.is_answer("ㄱㅇㅈ", "강아지"), "a curated word");
        assert!(bank.is_answer("ㄱㅂㅅ", "거북선"), "a hunspell-only word");
        assert!(!quiz_core::builtin::word_bank().contains("거북선"));
    }

    #[test]
    fn a_bad_list_names_its_file_and_line() {
        let dir = std::env::temp_dir().join(format!("quiz-words-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.txt"), "강아지\nnot a word\n").unwrap();
        let err = load_word_bank(&dir).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(err.contains("a.txt:2:"), "{err}");
    }
}
