//! The wire protocol the Android app and newer clients speak. Only this module knows JSON.
//!
//! Incoming text frames are classified, in this order:
//! 1. larger than [`MAX_FRAME_BYTES`]: an error, nothing else is read;
//! 2. text that is not JSON and does not start like it (`{`, `[`), such as the app's `start!`:
//!    a state request;
//! 3. broken JSON, and JSON that is not an object (arrays, `null`, numbers, strings): an error;
//! 4. an object with an `action`: a named action (`join`, `chat`, `state`, `hint`, `give-up`,
//!    `history`, `themes`, `ranking`, `report`, `add-bot`, `remove-bot`);
//! 5. an object without one: a chat line `{"username": …, "content": …}`.
//!
//! Outgoing frames are built by [`chat_frame`], [`state_frame`], [`error_frame`] and friends.
//! The app tells them apart by shape: an object with both `username` and `content` is a chat
//! line, an object with `id`, `answeredWords`, `nowConsonant` and `nowWordIdx` is game state,
//! anything else it ignores. So no frame but the chat frame ever carries both `username` and
//! `content`, and only the state frame carries `nowConsonant`.
//!
//! ```
//! use quiz_lambda::protocol::{parse_frame, ClientMessage};
//!
//! assert_eq!(parse_frame("start!"), Ok(ClientMessage::State));
//! let chat = parse_frame(r#"{"username":"민지","content":"강아지"}"#).unwrap();
//! assert_eq!(
//!     chat,
//!     ClientMessage::Chat { username: Some("민지".into()), content: "강아지".into() }
//! );
//! ```

use quiz_core::bots::{is_bot_name, BOT_NAME_PREFIX};
use quiz_core::game::{Game, Millis, RoundEndReason, Rules};
use quiz_core::hangul::{chosung, compose, is_complete_syllables};
use quiz_core::ranking::Period;
use quiz_core::words::{normalize_answer, ALL_THEMES};
use quiz_store::ReportKind;
use serde::Serialize;
use serde_json::{Map, Value};

/// Frames larger than this are refused before they are parsed. A legal chat line (a 20-character
/// name, 200 characters of content, even fully `\u`-escaped) is far smaller.
pub const MAX_FRAME_BYTES: usize = 8 * 1024;
/// Longest player name, in characters, after trimming.
pub const MAX_USERNAME_CHARS: usize = 20;
/// Longest chat content, in characters, after trimming.
pub const MAX_CONTENT_CHARS: usize = 200;
/// Longest room name, in characters.
pub const MAX_ROOM_CHARS: usize = 40;
/// Most chat lines a `history` action returns.
pub const MAX_HISTORY: usize = 50;
/// Most syllables of a reported word.
pub const MAX_REPORTED_WORD_CHARS: usize = 20;
/// Longest reason of a report, in characters, after trimming.
pub const MAX_REASON_CHARS: usize = 200;
/// How many players a ranking reply lists.
pub const RANKING_SIZE: usize = 20;
/// Most other answers a round's end shows.
pub const MAX_OTHER_ANSWERS: usize = 5;

// The embedded store keeps at least what a history request can ask for.
const _: () = assert!(quiz_store::MEMORY_CHAT_LINES_PER_ROOM >= MAX_HISTORY);

/// A message from a client, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// Send me the game state (the app's `start!`, any non-JSON text, `{"action":"state"}`).
    State,
    /// A chat line, which may be an answer. `username` is `None` only for `{"action":"chat"}`
    /// from a connection that already has a name.
    Chat {
        username: Option<String>,
        content: String,
    },
    /// Bind a name to this connection (and check the room it joined).
    Join {
        username: String,
        room: Option<String>,
    },
    /// Vote to reveal the next syllable now.
    Hint,
    /// Vote to give up the round.
    GiveUp,
    /// The room's recent chat lines.
    History { limit: usize },
    /// The themes a room can be opened with.
    Themes,
    /// The room's ranking for this week or all time.
    Ranking { period: Period },
    /// A word a player thinks should count, or should not.
    Report(WordReport),
    /// Seat a bot of this level (1 to 5).
    AddBot { level: u8 },
    /// Remove the newest bot.
    RemoveBot,
}

/// What a `report` frame asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordReport {
    /// Normalized as answers are.
    pub word: String,
    pub kind: ReportKind,
    pub reason: Option<String>,
}

/// Why a frame was refused. `code` is stable for clients to match on; the message is for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("message is {size} bytes; the limit is {MAX_FRAME_BYTES}")]
    TooLarge { size: usize },
    #[error("binary frames are not supported; send JSON text")]
    Binary,
    #[error("message is not valid JSON: {0}")]
    Malformed(String),
    #[error("message must be a JSON object, not {0}")]
    NotAnObject(&'static str),
    #[error("unknown action {0:?}; use join, chat, state, hint, give-up, history, themes, ranking, report, add-bot or remove-bot")]
    UnknownAction(String),
    #[error("field {field:?} is missing")]
    MissingField { field: &'static str },
    #[error("field {field:?} must be {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("username must be 1 to {MAX_USERNAME_CHARS} characters after trimming")]
    UsernameLength,
    #[error("content must be 1 to {MAX_CONTENT_CHARS} characters after trimming")]
    ContentLength,
    #[error("room must be 1 to {MAX_ROOM_CHARS} characters")]
    RoomLength,
    #[error("field {field:?} contains control characters")]
    ControlCharacters { field: &'static str },
    #[error("word must be 2 to {MAX_REPORTED_WORD_CHARS} Hangul syllables")]
    InvalidWord,
    #[error("reason must be at most {MAX_REASON_CHARS} characters")]
    ReasonLength,
    #[error("unknown theme {theme:?}; use {ALL_THEMES} or one of: {known}")]
    UnknownTheme { theme: String, known: String },
    #[error("a bot's level is a whole number from 1 to 5")]
    InvalidLevel,
    #[error("names starting with {BOT_NAME_PREFIX} are for bots; choose another")]
    BotName,
}

impl FrameError {
    /// The stable error code sent in error frames.
    pub fn code(&self) -> &'static str {
        match self {
            FrameError::TooLarge { .. } => "too_large",
            FrameError::Binary => "binary_frame",
            FrameError::Malformed(_) => "malformed_json",
            FrameError::NotAnObject(_) => "not_an_object",
            FrameError::UnknownAction(_) => "unknown_action",
            FrameError::MissingField { .. } => "missing_field",
            FrameError::WrongType { .. } => "wrong_type",
            FrameError::UsernameLength => "invalid_username",
            FrameError::ContentLength => "invalid_content",
            FrameError::RoomLength => "invalid_room",
            FrameError::ControlCharacters { field } => match *field {
                "username" => "invalid_username",
                "room" => "invalid_room",
                "reason" => "invalid_reason",
                _ => "invalid_content",
            },
            FrameError::InvalidWord => "invalid_word",
            FrameError::ReasonLength => "invalid_reason",
            FrameError::UnknownTheme { .. } => "unknown_theme",
            FrameError::InvalidLevel => "invalid_level",
            FrameError::BotName => "invalid_username",
        }
    }
}

/// Classifies and validates one text frame.
pub fn parse_frame(body: &str) -> Result<ClientMessage, FrameError> {
    if body.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge { size: body.len() });
    }
    let value: Value = match serde_json::from_str(body) {
        Ok(value) => value,
        Err(err) => {
            let trimmed = body.trim_start();
            if trimmed.starts_with('{') || trimmed.starts_with('[') {
                return Err(FrameError::Malformed(err.to_string()));
            }
            return Ok(ClientMessage::State);
        }
    };
    let object = match value {
        Value::Object(object) => object,
        Value::Array(_) => return Err(FrameError::NotAnObject("an array")),
        _ => return Err(FrameError::NotAnObject("a scalar")),
    };
    let Some(action) = object.get("action") else {
        return parse_chat(&object, true);
    };
    let action = action.as_str().ok_or(FrameError::WrongType {
        field: "action",
        expected: "a string",
    })?;
    match action {
        "chat" => parse_chat(&object, false),
        "state" => Ok(ClientMessage::State),
        "join" => Ok(ClientMessage::Join {
            username: username(required_str(&object, "username")?)?,
            room: optional_str(&object, "room")?.map(room).transpose()?,
        }),
        "hint" => Ok(ClientMessage::Hint),
        "give-up" => Ok(ClientMessage::GiveUp),
        "history" => {
            let limit = match object.get("limit") {
                None | Some(Value::Null) => 20,
                Some(value) => value.as_u64().ok_or(FrameError::WrongType {
                    field: "limit",
                    expected: "a non-negative integer",
                })? as usize,
            };
            Ok(ClientMessage::History {
                limit: limit.clamp(1, MAX_HISTORY),
            })
        }
        "themes" => Ok(ClientMessage::Themes),
        "add-bot" => {
            let level = match object.get("level") {
                None | Some(Value::Null) => {
                    return Err(FrameError::MissingField { field: "level" })
                }
                Some(value) => value.as_u64().ok_or(FrameError::WrongType {
                    field: "level",
                    expected: "a whole number from 1 to 5",
                })?,
            };
            match u8::try_from(level) {
                Ok(level) if (1..=5).contains(&level) => Ok(ClientMessage::AddBot { level }),
                _ => Err(FrameError::InvalidLevel),
            }
        }
        "remove-bot" => Ok(ClientMessage::RemoveBot),
        "ranking" => Ok(ClientMessage::Ranking {
            period: match optional_str(&object, "period")? {
                None | Some("week") => Period::Week,
                Some("all") => Period::AllTime,
                Some(_) => {
                    return Err(FrameError::WrongType {
                        field: "period",
                        expected: "\"week\" or \"all\"",
                    })
                }
            },
        }),
        "report" => Ok(ClientMessage::Report(WordReport {
            word: reported_word(required_str(&object, "word")?)?,
            kind: match required_str(&object, "kind")? {
                "add" => ReportKind::Add,
                "remove" => ReportKind::Remove,
                _ => {
                    return Err(FrameError::WrongType {
                        field: "kind",
                        expected: "\"add\" or \"remove\"",
                    })
                }
            },
            reason: optional_str(&object, "reason")?
                .map(reason)
                .transpose()?
                .flatten(),
        })),
        other => Err(FrameError::UnknownAction(truncate(other, 40))),
    }
}

/// A reported word, normalized as answers are: 2 to [`MAX_REPORTED_WORD_CHARS`] syllables.
fn reported_word(raw: &str) -> Result<String, FrameError> {
    let word = normalize_answer(raw);
    let length = word.chars().count();
    if !is_complete_syllables(&word) || !(2..=MAX_REPORTED_WORD_CHARS).contains(&length) {
        return Err(FrameError::InvalidWord);
    }
    Ok(word)
}

/// A report's reason: trimmed, at most [`MAX_REASON_CHARS`]; blank is none.
fn reason(raw: &str) -> Result<Option<String>, FrameError> {
    let text = raw.trim();
    if text.chars().count() > MAX_REASON_CHARS {
        return Err(FrameError::ReasonLength);
    }
    if text.chars().any(char::is_control) {
        return Err(FrameError::ControlCharacters { field: "reason" });
    }
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

/// Validates a theme asked for on connect (`?theme=`): a theme of the bank, or
/// [`ALL_THEMES`] (also what an empty value asks for).
pub fn theme(raw: &str, rules: &Rules) -> Result<String, FrameError> {
    let id = raw.trim();
    if id.is_empty() {
        return Ok(ALL_THEMES.to_owned());
    }
    if rules.bank.has_theme(id) {
        return Ok(id.to_owned());
    }
    let known: Vec<&str> = rules.bank.themes().iter().map(|t| t.id.as_ref()).collect();
    Err(FrameError::UnknownTheme {
        theme: truncate(id, 40),
        known: known.join(", "),
    })
}

fn parse_chat(
    object: &Map<String, Value>,
    name_required: bool,
) -> Result<ClientMessage, FrameError> {
    let username = if name_required {
        Some(username(required_str(object, "username")?)?)
    } else {
        optional_str(object, "username")?
            .map(username)
            .transpose()?
    };
    Ok(ClientMessage::Chat {
        username,
        content: content(required_str(object, "content")?)?,
    })
}

fn required_str<'a>(
    object: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, FrameError> {
    optional_str(object, field)?.ok_or(FrameError::MissingField { field })
}

fn optional_str<'a>(
    object: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a str>, FrameError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(FrameError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

/// Validates a player name: trimmed, composed (so NFD and NFC spellings are one player),
/// 1 to [`MAX_USERNAME_CHARS`] characters, no control characters.
pub fn username(raw: &str) -> Result<String, FrameError> {
    let name = compose(raw.trim()).into_owned();
    if name.is_empty() || name.chars().count() > MAX_USERNAME_CHARS {
        return Err(FrameError::UsernameLength);
    }
    if name.chars().any(char::is_control) {
        return Err(FrameError::ControlCharacters { field: "username" });
    }
    if is_bot_name(&name) {
        return Err(FrameError::BotName);
    }
    Ok(name)
}

/// Validates chat content: trimmed, 1 to [`MAX_CONTENT_CHARS`] characters, no control characters.
pub fn content(raw: &str) -> Result<String, FrameError> {
    let text = raw.trim();
    if text.is_empty() || text.chars().count() > MAX_CONTENT_CHARS {
        return Err(FrameError::ContentLength);
    }
    if text.chars().any(char::is_control) {
        return Err(FrameError::ControlCharacters { field: "content" });
    }
    Ok(text.to_owned())
}

/// Validates a room name: 1 to [`MAX_ROOM_CHARS`] characters, no control characters.
pub fn room(raw: &str) -> Result<String, FrameError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > MAX_ROOM_CHARS {
        return Err(FrameError::RoomLength);
    }
    if name.chars().any(char::is_control) {
        return Err(FrameError::ControlCharacters { field: "room" });
    }
    Ok(name.to_owned())
}

fn truncate(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// A chat line as the app expects it: exactly `{"username": …, "content": …}`.
pub fn chat_frame(username: &str, content: &str) -> String {
    #[derive(Serialize)]
    struct Chat<'a> {
        username: &'a str,
        content: &'a str,
    }
    to_json(&Chat { username, content })
}

/// Why a state frame was sent, for clients that care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateReason {
    /// A reply to a state request.
    Reply,
    /// The game changed: a win, a hint, a timeout, a vote.
    Changed,
}

/// Who is in a room: connections with a name (players) and without (spectators).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Presence {
    pub online: usize,
    pub spectators: usize,
}

/// The game state frame. The app reads `id`, `nowConsonant` (shown as the question, with any
/// hint revealed), `nowWordIdx` and `answeredWords` (the words joined with `", "`); the other
/// fields are for newer clients. Nothing that reveals the question is sent while its round runs.
pub fn state_frame(
    room: &str,
    game: &Game,
    rules: &Rules,
    reason: StateReason,
    presence: Option<Presence>,
) -> String {
    let previous = game.previous().map(|end| {
        let pattern = chosung(&end.word);
        serde_json::json!({
            "round": end.round,
            "word": end.word,
            "winner": end.winner,
            "reason": match end.reason {
                RoundEndReason::Solved => "solved",
                RoundEndReason::TimedOut => "timeout",
                RoundEndReason::GaveUp => "gave-up",
            },
            "pattern": pattern,
            "others": rules.bank.other_answers(&pattern, &end.word, MAX_OTHER_ANSWERS),
            "answerCount": rules.bank.answer_count(&pattern),
        })
    });
    let mut value = serde_json::json!({
        "type": "state",
        "reason": match reason {
            StateReason::Reply => "reply",
            StateReason::Changed => "changed",
        },
        "id": game.id(),
        "nowConsonant": game.hint(),
        // The app only needs an integer that changes with the question; the question's index
        // in the public word list would give the answer away.
        "nowWordIdx": game.round(),
        "answeredWords": game.answered_words().join(", "),
        "room": room,
        "round": game.round(),
        "version": game.version(),
        "pattern": game.pattern(),
        "hintLevel": game.hint_level(),
        "answerCount": rules.bank.answer_count(game.pattern()),
        "roundStartedAt": game.round_started_at(),
        "deadline": game.round_deadline(rules),
        "scores": top_scores(game),
        "players": game.scores().len(),
        "hintVotes": game.votes(quiz_core::game::VoteKind::Hint).len(),
        "giveUpVotes": game.votes(quiz_core::game::VoteKind::GiveUp).len(),
        "previous": previous,
        // The clock is stopped until a player sends something; `deadline` is where it stood.
        "paused": game.is_paused(),
        "theme": game.theme(),
        "bots": game
            .bots()
            .iter()
            .map(|bot| serde_json::json!({ "name": bot.name, "level": bot.level }))
            .collect::<Vec<_>>(),
    });
    // A broadcast knows who is in the room (it read the list to post); a reply does not.
    if let (Some(presence), Some(object)) = (presence, value.as_object_mut()) {
        object.insert("online".into(), presence.online.into());
        object.insert("spectators".into(), presence.spectators.into());
    }
    value.to_string()
}

/// The reply to `themes`: every theme with its display name and question count, `all` first.
pub fn themes_frame(rules: &Rules) -> String {
    let all = serde_json::json!({
        "id": ALL_THEMES,
        "name": "전체",
        "questions": rules.bank.questions().len(),
    });
    let themes: Vec<Value> = std::iter::once(all)
        .chain(rules.bank.themes().iter().map(|theme| {
            serde_json::json!({
                "id": theme.id,
                "name": theme.name,
                "questions": theme.question_count(),
            })
        }))
        .collect();
    serde_json::json!({ "type": "themes", "themes": themes }).to_string()
}

/// The reply to `ranking`: the best players of the period, `since` when it began (an RFC 3339
/// time at the week's UTC offset, or null for all time).
pub fn ranking_frame(
    room: &str,
    period: Period,
    since: Option<Millis>,
    utc_offset_minutes: i16,
    top: &[(&str, u32)],
) -> String {
    let top: Vec<Value> = top
        .iter()
        .map(|(username, score)| serde_json::json!({ "username": username, "score": score }))
        .collect();
    serde_json::json!({
        "type": "ranking",
        "room": room,
        "period": match period {
            Period::Week => "week",
            Period::AllTime => "all",
        },
        "since": since.map(|at| rfc3339_at_offset(at, utc_offset_minutes)),
        "top": top,
    })
    .to_string()
}

/// `at` as local time at `offset_minutes` from UTC, to the second: `2026-11-23T00:00:00+09:00`.
fn rfc3339_at_offset(at: Millis, offset_minutes: i16) -> String {
    let offset_ms = i64::from(offset_minutes) * 60_000;
    let local = i64::try_from(at)
        .unwrap_or(i64::MAX)
        .saturating_add(offset_ms);
    let utc_form = quiz_store::iso8601_millis(Millis::try_from(local).unwrap_or(0));
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let minutes = offset_minutes.unsigned_abs();
    format!(
        "{}{sign}{:02}:{:02}",
        &utc_form[..19],
        minutes / 60,
        minutes % 60
    )
}

/// Most scores a state frame carries, highest first, so frames stay small in busy rooms.
pub const MAX_SCORES_IN_FRAME: usize = 50;

fn top_scores(game: &Game) -> Map<String, Value> {
    let mut scores: Vec<(&String, &u32)> = game.scores().iter().collect();
    scores.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    scores
        .into_iter()
        .take(MAX_SCORES_IN_FRAME)
        .map(|(name, score)| (name.clone(), Value::from(*score)))
        .collect()
}

/// An error for the sender: `{"type":"error","code":…,"message":…}`.
pub fn error_frame(code: &str, message: &str) -> String {
    typed_frame("error", code, message)
}

/// The error for a frame over the connection's message limit, with the seconds to wait (to a
/// tenth, rounded up): `{"type":"error","code":"slow_down","message":…,"retryAfter":0.4}`.
pub fn slow_down_frame(retry_after_us: u64) -> String {
    let tenths = retry_after_us.div_ceil(100_000).max(1);
    let seconds = tenths as f64 / 10.0;
    serde_json::json!({
        "type": "error",
        "code": "slow_down",
        "message": format!("too many messages: wait {seconds} s before sending again"),
        "retryAfter": seconds,
    })
    .to_string()
}

/// A notice for the sender (how their answer or vote was judged, a welcome).
pub fn notice_frame(code: &str, message: &str) -> String {
    typed_frame("notice", code, message)
}

fn typed_frame(kind: &str, code: &str, message: &str) -> String {
    #[derive(Serialize)]
    struct Typed<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        code: &'a str,
        message: &'a str,
    }
    to_json(&Typed {
        kind,
        code,
        message,
    })
}

/// One line of a history reply.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryLine<'a> {
    pub username: &'a str,
    pub content: &'a str,
    pub sent_at: &'a str,
    pub correct: bool,
}

/// The reply to `history`: `{"type":"history","room":…,"lines":[…]}`, oldest first.
pub fn history_frame(room: &str, lines: &[HistoryLine<'_>]) -> String {
    #[derive(Serialize)]
    struct History<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        room: &'a str,
        lines: &'a [HistoryLine<'a>],
    }
    to_json(&History {
        kind: "history",
        room,
        lines,
    })
}

fn to_json(value: &impl Serialize) -> String {
    // Serializing these plain structs of strings and numbers cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_json_text_asks_for_the_state() {
        for body in ["start!", "", "hello", "  start!  ", "ㅎㅇ"] {
            assert_eq!(parse_frame(body), Ok(ClientMessage::State), "{body:?}");
        }
    }

    #[test]
    fn the_apps_chat_frame_parses() {
        assert_eq!(
            parse_frame(r#"{"username":" 민지 ","content":" 강 아지 "}"#),
            Ok(ClientMessage::Chat {
                username: Some("민지".into()),
                content: "강 아지".into()
            })
        );
    }

    #[test]
    fn broken_json_and_non_objects_are_errors() {
        let cases = [
            (r#"{"username":"a","#, "malformed_json"),
            ("[1,2]", "not_an_object"),
            (
                "{\"username\":\"\\ud800\",\"content\":\"x\"}",
                "malformed_json",
            ),
            (r#"{"username":1,"content":"x"}"#, "wrong_type"),
            (r#"{"content":"x"}"#, "missing_field"),
            (r#"{"username":"a"}"#, "missing_field"),
            (r#"{"username":"a","content":"   "}"#, "invalid_content"),
            (r#"{"username":"","content":"x"}"#, "invalid_username"),
            (
                r#"{"username":"a\u0007","content":"x"}"#,
                "invalid_username",
            ),
            (r#"{"username":"a","content":"x\ny"}"#, "invalid_content"),
            (r#"{"action":"dance"}"#, "unknown_action"),
            (r#"{"action":7}"#, "wrong_type"),
            (r#"{"action":"history","limit":"ten"}"#, "wrong_type"),
            (
                r#"{"action":"join","username":"a","room":""}"#,
                "invalid_room",
            ),
            (r#"{"action":"ranking","period":"year"}"#, "wrong_type"),
            (r#"{"action":"add-bot"}"#, "missing_field"),
            (r#"{"action":"add-bot","level":"5"}"#, "wrong_type"),
            (r#"{"action":"add-bot","level":0}"#, "invalid_level"),
            (r#"{"action":"add-bot","level":6}"#, "invalid_level"),
            (r#"{"action":"add-bot","level":-1}"#, "wrong_type"),
            (
                r#"{"username":"🤖 달인","content":"x"}"#,
                "invalid_username",
            ),
            (r#"{"action":"ranking","period":7}"#, "wrong_type"),
            (r#"{"action":"report","kind":"add"}"#, "missing_field"),
            (r#"{"action":"report","word":"소라게"}"#, "missing_field"),
            (
                r#"{"action":"report","word":"소라게","kind":"maybe"}"#,
                "wrong_type",
            ),
            (
                r#"{"action":"report","word":["소라게"],"kind":"add"}"#,
                "wrong_type",
            ),
            (
                r#"{"action":"report","word":"게","kind":"add"}"#,
                "invalid_word",
            ),
            (
                r#"{"action":"report","word":"crab","kind":"add"}"#,
                "invalid_word",
            ),
            (
                r#"{"action":"report","word":"소라게","kind":"add","reason":"a\u0007"}"#,
                "invalid_reason",
            ),
        ];
        for (body, code) in cases {
            let err = parse_frame(body).unwrap_err();
            assert_eq!(err.code(), code, "{body}: {err}");
        }
        for scalar in ["null", "42", "true", "\"start!\""] {
            assert_eq!(parse_frame(scalar).unwrap_err().code(), "not_an_object");
        }
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        let name: String = "가".repeat(MAX_USERNAME_CHARS);
        assert!(username(&name).is_ok());
        assert_eq!(username(&(name + "가")), Err(FrameError::UsernameLength));
        let text: String = "가".repeat(MAX_CONTENT_CHARS);
        assert!(content(&text).is_ok());
        assert_eq!(content(&(text + "가")), Err(FrameError::ContentLength));
        let big = "x".repeat(MAX_FRAME_BYTES + 1);
        assert_eq!(parse_frame(&big).unwrap_err().code(), "too_large");
    }

    #[test]
    fn decomposed_names_are_the_same_player() {
        let nfd = quiz_core::hangul::decompose("민지");
        assert_eq!(username(&nfd).unwrap(), "민지");
    }

    #[test]
    fn actions_parse() {
        assert_eq!(
            parse_frame(r#"{"action":"state"}"#),
            Ok(ClientMessage::State)
        );
        assert_eq!(parse_frame(r#"{"action":"hint"}"#), Ok(ClientMessage::Hint));
        assert_eq!(
            parse_frame(r#"{"action":"give-up"}"#),
            Ok(ClientMessage::GiveUp)
        );
        assert_eq!(
            parse_frame(r#"{"action":"history","limit":1000}"#),
            Ok(ClientMessage::History { limit: MAX_HISTORY })
        );
        assert_eq!(
            parse_frame(r#"{"action":"join","username":"민지","room":"lobby"}"#),
            Ok(ClientMessage::Join {
                username: "민지".into(),
                room: Some("lobby".into())
            })
        );
        assert_eq!(
            parse_frame(r#"{"action":"themes"}"#),
            Ok(ClientMessage::Themes)
        );
        assert_eq!(
            parse_frame(r#"{"action":"add-bot","level":5}"#),
            Ok(ClientMessage::AddBot { level: 5 })
        );
        assert_eq!(
            parse_frame(r#"{"action":"remove-bot"}"#),
            Ok(ClientMessage::RemoveBot)
        );
        assert_eq!(
            parse_frame(r#"{"action":"ranking"}"#),
            Ok(ClientMessage::Ranking {
                period: Period::Week
            })
        );
        assert_eq!(
            parse_frame(r#"{"action":"ranking","period":"all"}"#),
            Ok(ClientMessage::Ranking {
                period: Period::AllTime
            })
        );
        assert_eq!(
            parse_frame(r#"{"action":"report","word":" 소라 게","kind":"remove","reason":"  "}"#),
            Ok(ClientMessage::Report(WordReport {
                word: "소라게".into(),
                kind: ReportKind::Remove,
                reason: None
            }))
        );
        assert_eq!(
            parse_frame(r#"{"action":"chat","content":"안녕"}"#),
            Ok(ClientMessage::Chat {
                username: None,
                content: "안녕".into()
            })
        );
    }

    #[test]
    fn themes_on_connect_are_the_banks_or_all() {
        let bank = quiz_core::words::WordBank::new(
            quiz_core::words::parse_word_list("food.txt", "# 음식\n김치\n").unwrap(),
            [],
        )
        .unwrap();
        let rules = Rules::new(bank, quiz_core::game::GameConfig::default());
        assert_eq!(theme(" food ", &rules).unwrap(), "food");
        assert_eq!(theme("all", &rules).unwrap(), "all");
        assert_eq!(theme("", &rules).unwrap(), "all");
        let err = theme("sports", &rules).unwrap_err();
        assert_eq!(err.code(), "unknown_theme");
        assert_eq!(
            err.to_string(),
            "unknown theme \"sports\"; use all or one of: food"
        );
    }

    #[test]
    fn week_starts_print_at_their_offset() {
        // Monday 2026-11-23 00:00 in Korea is 2026-11-22 15:00 UTC.
        assert_eq!(
            rfc3339_at_offset(1_795_359_600_000, 540),
            "2026-11-23T00:00:00+09:00"
        );
        assert_eq!(
            rfc3339_at_offset(1_795_359_600_000, -330),
            "2026-11-22T09:30:00-05:30"
        );
    }

    #[test]
    fn frames_keep_the_shapes_the_app_tells_apart() {
        assert_eq!(
            chat_frame("민지", "강아지"),
            r#"{"username":"민지","content":"강아지"}"#
        );
        let error: Value = serde_json::from_str(&error_frame("x", "y")).unwrap();
        assert_eq!(error["type"], "error");
        assert!(error.get("username").is_none() && error.get("nowConsonant").is_none());
    }
}
