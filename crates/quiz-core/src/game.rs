//! A room's game as a state machine: events (with the current time) in, changes out.
//!
//! The game owns no clock and no timer. Every call takes `now` (milliseconds since the Unix
//! epoch) and first applies what time has done since the last call: hints at 1/3 and 2/3 of the
//! round, the answers its bots planned ([`crate::bots`]), and a timeout at its end. Like a sans-IO protocol's "poll timeout",
//! [`Game::next_wake`] says when time will next change the game; the adapter sets a timer for
//! that instant and calls [`Game::tick`] when it fires. Any other event applies the clock too,
//! so a late or lost timer delays a hint but never loses one.
//!
//! A room nobody talks in should stop costing timers: after [`PAUSE_AFTER_SILENT_TIMEOUTS`]
//! rounds in a row end by a timeout or a bot's answer with no player message during any of
//! them, the game pauses
//! ([`Game::is_paused`]): time stops changing it and `next_wake` is `None` until a player's
//! next message resumes it with a fresh clock.
//!
//! Every call returns the [`GameEvent`]s it caused, so an adapter broadcasts exactly what changed
//! and never diffs states. `events.is_empty()` exactly when the game did not change, and
//! [`Game::version`] grows by one on every change, which is what a store's conditional write
//! checks.
//!
//! ```
//! use quiz_core::game::{Game, GameConfig, Rules, Verdict};
//! use quiz_core::words::{parse_word_list, WordBank};
//!
//! let questions = parse_word_list("q.txt", "강아지\n").unwrap();
//! let rules = Rules::new(WordBank::new(questions, []).unwrap(), GameConfig::default());
//! let now = 1_700_000_000_000;
//!
//! let mut game = Game::new(&rules, 1, 42, now);
//! assert_eq!(game.pattern(), "ㄱㅇㅈ");
//!
//! let wrong = game.submit(&rules, "민지", "고양이", 1, now + 1_000);
//! assert_eq!(wrong.verdict, Verdict::WrongPattern);
//! // The round heard from a player (so it will not count as silent); nothing players see.
//! assert!(wrong.events.iter().all(|event| !event.is_seen_by_players()));
//!
//! let right = game.submit(&rules, "민지", "강 아지", 1, now + 2_000);
//! assert_eq!(right.verdict, Verdict::Correct { word: "강아지".into(), score: 1 });
//! assert_eq!(game.score("민지"), 1);
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::bots::{self, Bot, BotMove, MAX_BOTS};
use crate::deck::Deck;
use crate::hangul::{chosung, is_complete_syllables, syllable_count};
use crate::keyboard::latin_answer;
use crate::ranking::{Ranking, WeekStart};
use crate::words::{normalize_answer, WordBank, ALL_THEMES};

/// Milliseconds since the Unix epoch.
pub type Millis = u64;

/// Most players a game keeps scores for; past it, the lowest scores are forgotten.
pub const MAX_SCORED_PLAYERS: usize = 1_000;

/// Rounds in a row that end with no player message (timed out, or won by a bot) before the
/// game pauses.
pub const PAUSE_AFTER_SILENT_TIMEOUTS: u32 = 3;

/// Most answered words a game remembers. A word is refused as already answered while it is
/// among the last this many accepted since the deck was reshuffled; an older one counts
/// again. This keeps a stored game (and each state frame) small with a word list of any
/// size.
pub const MAX_ANSWERED_WORDS: usize = 1_000;

/// Tunable game settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GameConfig {
    /// How long a round lasts before it times out and the answer is revealed.
    pub round_ms: Millis,
    /// When the weekly ranking starts over.
    pub week: WeekStart,
}

impl Default for GameConfig {
    fn default() -> Self {
        GameConfig {
            round_ms: 60_000,
            week: WeekStart::default(),
        }
    }
}

/// What a game is played with: the word bank and the settings. Shared by all rooms.
#[derive(Debug, Clone)]
pub struct Rules {
    pub bank: WordBank,
    pub config: GameConfig,
}

impl Rules {
    pub fn new(bank: WordBank, config: GameConfig) -> Self {
        Rules { bank, config }
    }

    fn round_ms(&self) -> Millis {
        self.config.round_ms.max(1)
    }
}

/// How a round ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub enum RoundEndReason {
    Solved,
    TimedOut,
    GaveUp,
}

/// The last round that ended: what the word was and who, if anyone, found it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct RoundEnd {
    pub round: u32,
    /// The winning answer, or the question word when nobody found one.
    pub word: String,
    pub winner: Option<String>,
    pub reason: RoundEndReason,
}

/// What players can vote on together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteKind {
    /// Reveal the next syllable now.
    Hint,
    /// Reveal the answer and move on.
    GiveUp,
}

/// Something that changed, for an adapter to broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GameEvent {
    Solved {
        round: u32,
        player: String,
        word: String,
        score: u32,
    },
    HintRevealed {
        round: u32,
        hint: String,
    },
    TimedOut {
        round: u32,
        answer: String,
    },
    GaveUp {
        round: u32,
        answer: String,
    },
    VoteCounted {
        kind: VoteKind,
        player: String,
        votes: usize,
        needed: usize,
    },
    DeckReshuffled {
        cycle: u32,
    },
    NewQuestion {
        round: u32,
        pattern: String,
    },
    /// The round's first message from a player: this round will not count as silent, and the
    /// count towards a pause restarts. Bookkeeping only: nothing players see changes.
    PlayerHeard {
        round: u32,
    },
    /// Rounds kept timing out with nobody talking: the clock stops until a player speaks.
    Paused {
        round: u32,
    },
    /// A player spoke in a paused game: the current round starts over on a fresh clock.
    Resumed {
        round: u32,
    },
    /// A bot took a seat; it plays from this round on.
    BotJoined {
        name: String,
        level: u8,
    },
    /// A bot left the room (its score stays).
    BotLeft {
        name: String,
    },
}

impl GameEvent {
    /// Whether players see this change in the state (every change but [`GameEvent::PlayerHeard`],
    /// which is the game's own bookkeeping): an adapter need not tell anyone about the others.
    pub fn is_seen_by_players(&self) -> bool {
        !matches!(self, GameEvent::PlayerHeard { .. })
    }
}

/// Why a submission was or was not a correct answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The first correct answer of the round: the player scored and a new round began.
    Correct { word: String, score: u32 },
    /// The text was a give-up vote (`ㅈㅈ`, `gg`).
    Vote(VoteOutcome),
    /// Not made only of complete syllables after normalization (chat, `ㅋㅋ`, emoji, empty).
    NotSyllables,
    /// Complete syllables, but its chosung is not the current pattern.
    WrongPattern,
    /// Fits the pattern but is not in the dictionary.
    NotAWord,
    /// Fits and is a word, but is among the last [`MAX_ANSWERED_WORDS`] accepted since the
    /// deck was last reshuffled.
    AlreadyAnswered,
}

/// The result of a vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoteOutcome {
    /// Counted; not enough votes yet.
    Counted { votes: usize, needed: usize },
    /// This vote made the majority and the vote's action happened.
    Passed,
    /// This player already voted this way in this round.
    AlreadyVoted,
    /// A hint vote when every syllable that can be revealed already is.
    NothingToReveal,
}

/// What a call did: its own outcome, and every change it caused (time included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition<T> {
    pub outcome: T,
    pub events: Vec<GameEvent>,
}

/// Why a bot could not be seated or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BotRefusal {
    #[error("a room holds at most {MAX_BOTS} bots")]
    TooMany,
    #[error("a bot's level is 1 to 5")]
    NoSuchLevel,
    #[error("the room has no bot")]
    NoBots,
}

/// The result of [`Game::submit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission {
    pub verdict: Verdict,
    pub events: Vec<GameEvent>,
}

/// One room's game. Serializes with stable camelCase field names for storage.
///
/// Every field reads with a default when it is absent, so a game stored by an older release
/// (which did not have the fields added since) still loads; a store fills in what a default
/// cannot (the version, from its own copy).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "camelCase"))]
pub struct Game {
    #[cfg_attr(feature = "serde", serde(default))]
    id: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    version: u64,
    #[cfg_attr(feature = "serde", serde(default))]
    round: u32,
    #[cfg_attr(feature = "serde", serde(default))]
    question: String,
    #[cfg_attr(feature = "serde", serde(default))]
    question_index: u32,
    #[cfg_attr(feature = "serde", serde(default))]
    pattern: String,
    #[cfg_attr(feature = "serde", serde(default))]
    hint_level: u32,
    #[cfg_attr(feature = "serde", serde(default))]
    round_started_at: Millis,
    /// The last [`MAX_ANSWERED_WORDS`] words accepted since the deck was reshuffled, oldest
    /// first.
    #[cfg_attr(feature = "serde", serde(default))]
    answered_words: Vec<String>,
    #[cfg_attr(feature = "serde", serde(default))]
    scores: BTreeMap<String, u32>,
    #[cfg_attr(feature = "serde", serde(default))]
    hint_votes: BTreeSet<String>,
    #[cfg_attr(feature = "serde", serde(default))]
    give_up_votes: BTreeSet<String>,
    #[cfg_attr(feature = "serde", serde(default))]
    deck: Deck,
    #[cfg_attr(feature = "serde", serde(default))]
    previous: Option<RoundEnd>,
    /// Rounds in a row that timed out with no player message.
    #[cfg_attr(feature = "serde", serde(default))]
    silent_timeouts: u32,
    /// Whether a player has sent anything in the current round.
    #[cfg_attr(feature = "serde", serde(default))]
    heard_this_round: bool,
    #[cfg_attr(feature = "serde", serde(default))]
    paused: bool,
    /// The theme questions are drawn from: a question list's id, or [`ALL_THEMES`].
    #[cfg_attr(feature = "serde", serde(default = "all_themes"))]
    theme: String,
    /// Correct answers per player, this week and for all time.
    #[cfg_attr(feature = "serde", serde(default))]
    ranking: Ranking,
    /// The room's bots, oldest first.
    #[cfg_attr(feature = "serde", serde(default))]
    bots: Vec<Bot>,
    /// What the bots decided to do this round, earliest first.
    #[cfg_attr(feature = "serde", serde(default))]
    bot_moves: Vec<BotMove>,
}

#[cfg(feature = "serde")]
fn all_themes() -> String {
    ALL_THEMES.to_owned()
}

impl Game {
    /// Starts a game at round 1 with version 1, asking questions from every list. `seed`
    /// shuffles the question deck.
    pub fn new(rules: &Rules, id: u64, seed: u64, now: Millis) -> Game {
        Game::new_in_theme(rules, ALL_THEMES, id, seed, now)
    }

    /// [`Game::new`] asking only the questions of `theme` (a [`crate::words::Theme`]'s id);
    /// [`ALL_THEMES`], or an id the bank does not know, asks from every list.
    ///
    /// ```
    /// use quiz_core::game::{Game, GameConfig, Rules};
    /// use quiz_core::words::{parse_word_list, WordBank};
    ///
    /// let animals = parse_word_list("animals.txt", "# 동물\n강아지\n").unwrap();
    /// let food = parse_word_list("food.txt", "# 음식\n김치\n").unwrap();
    /// let bank = WordBank::new(animals.into_iter().chain(food), []).unwrap();
    /// let rules = Rules::new(bank, GameConfig::default());
    /// let game = Game::new_in_theme(&rules, "food", 1, 42, 0);
    /// assert_eq!((game.theme(), game.pattern()), ("food", "ㄱㅊ"));
    /// ```
    pub fn new_in_theme(rules: &Rules, theme: &str, id: u64, seed: u64, now: Millis) -> Game {
        let theme = if rules.bank.theme(theme).is_some() {
            theme
        } else {
            ALL_THEMES
        };
        let mut game = Game {
            id,
            version: 1,
            round: 0,
            question: String::new(),
            question_index: 0,
            pattern: String::new(),
            hint_level: 0,
            round_started_at: now,
            answered_words: Vec::new(),
            scores: BTreeMap::new(),
            hint_votes: BTreeSet::new(),
            give_up_votes: BTreeSet::new(),
            deck: Deck::new(seed),
            previous: None,
            silent_timeouts: 0,
            heard_this_round: false,
            paused: false,
            theme: theme.to_owned(),
            ranking: Ranking::default(),
            bots: Vec::new(),
            bot_moves: Vec::new(),
        };
        game.next_question(rules, now, &mut Vec::new());
        game
    }

    /// Makes this new game take the place of a room's game that can no longer be read (its
    /// stored form does not parse): the room keeps its scores (the highest
    /// [`MAX_SCORED_PLAYERS`] of them), and the version continues past `previous_version`, the
    /// stored game's, so a room's version never goes back and a conditional write can tell
    /// the two games apart. Everything else is this game's own: its question, deck and id.
    ///
    /// Meant for a game that has not been played yet, between [`Game::new`] and its first
    /// save.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use quiz_core::game::{Game, GameConfig, Rules};
    /// use quiz_core::words::{parse_word_list, WordBank};
    ///
    /// let questions = parse_word_list("q.txt", "강아지\n").unwrap();
    /// let rules = Rules::new(WordBank::new(questions, []).unwrap(), GameConfig::default());
    /// let mut game = Game::new(&rules, 2, 7, 0);
    /// game.take_over(41, BTreeMap::from([("민지".to_owned(), 3)]));
    /// assert_eq!(game.score("민지"), 3);
    /// assert_eq!(game.version(), 42);
    /// ```
    pub fn take_over(&mut self, previous_version: u64, scores: BTreeMap<String, u32>) {
        self.scores = scores;
        self.forget_lowest_scores(None);
        self.version = self.version.max(previous_version.saturating_add(1));
    }

    /// Applies what time has done: hints due and the round's timeout. Changes nothing in a
    /// paused game, or before [`Game::next_wake`].
    pub fn tick(&mut self, rules: &Rules, now: Millis) -> Vec<GameEvent> {
        let mut events = Vec::new();
        self.advance_clock(rules, now, &mut events, false);
        self.finish(&events);
        events
    }

    /// A player asked for the state (or joined): applies the clock, and resumes a paused game.
    pub fn player_seen(&mut self, rules: &Rules, now: Millis) -> Vec<GameEvent> {
        let mut events = Vec::new();
        self.player_spoke(rules, now, &mut events);
        self.finish(&events);
        events
    }

    /// When time next changes the game: the earliest of the next hint the clock reveals, a
    /// bot's planned answer and the round's timeout. `None` while the game is paused.
    ///
    /// [`Game::tick`] at that instant always changes the game, and at any earlier instant never
    /// does, so a timer set for it is never wasted.
    ///
    /// ```
    /// use quiz_core::game::{Game, GameConfig, Rules};
    /// use quiz_core::words::{parse_word_list, WordBank};
    ///
    /// let questions = parse_word_list("q.txt", "강아지\n").unwrap();
    /// let rules = Rules::new(WordBank::new(questions, []).unwrap(), GameConfig { round_ms: 60_000, ..GameConfig::default() });
    /// let mut game = Game::new(&rules, 1, 42, 0);
    /// assert_eq!(game.next_wake(&rules), Some(20_000)); // the first hint
    /// assert!(game.tick(&rules, 19_999).is_empty());
    /// assert!(!game.tick(&rules, 20_000).is_empty());
    /// assert_eq!(game.next_wake(&rules), Some(40_000)); // the second hint
    /// ```
    pub fn next_wake(&self, rules: &Rules) -> Option<Millis> {
        if self.paused {
            return None;
        }
        let clock = self.next_clock_wake(rules);
        // Moves are planned before the deadline, so a bot's never comes after the timeout.
        match self.bot_moves.first() {
            Some(planned) => Some(planned.at.min(clock)),
            None => Some(clock),
        }
    }

    /// When the clock alone (hints, timeout) next changes the game.
    fn next_clock_wake(&self, rules: &Rules) -> Millis {
        let round_ms = rules.round_ms();
        let next_level = self.hint_level + 1;
        // The clock reveals hints at 1/3 and 2/3 of the round (votes may have gone further),
        // at the first millisecond the level is due; in a very short round that can be the
        // deadline, where the timeout wins.
        if next_level <= 2 && next_level <= self.max_hint_level() {
            let offset = (u128::from(round_ms) * u128::from(next_level)).div_ceil(3);
            let offset = Millis::try_from(offset).unwrap_or(Millis::MAX);
            if offset < round_ms {
                return self.round_started_at.saturating_add(offset);
            }
        }
        self.round_deadline(rules)
    }
    /// A player's chat line, judged as an answer to the current pattern. A line of Latin
    /// letters that spells complete syllables on the 2-set layout (`rkddkwl`) is judged as
    /// that Hangul ([`latin_answer`]); the round's end names the Hangul word.
    ///
    /// `players_online` is how many players are in the room (an adapter that cannot tell
    /// players apart passes its connection count); it sets the majority a give-up vote
    /// (`ㅈㅈ`, `gg`) needs.
    pub fn submit(
        &mut self,
        rules: &Rules,
        player: &str,
        text: &str,
        players_online: usize,
        now: Millis,
    ) -> Submission {
        let mut events = Vec::new();
        self.player_spoke(rules, now, &mut events);
        let answer = normalize_answer(text);
        let verdict = if is_give_up_word(&answer) {
            Verdict::Vote(self.count_vote(
                rules,
                VoteKind::GiveUp,
                player,
                players_online,
                now,
                &mut events,
            ))
        } else {
            // Typed with the keyboard still in Latin mode: judged as the Hangul it spells.
            let answer = latin_answer(&answer).unwrap_or(answer);
            self.judge(rules, player, answer, now, &mut events)
        };
        self.finish(&events);
        Submission { verdict, events }
    }

    /// A player's vote to reveal a hint now, or to give up the round.
    ///
    /// A vote passes with a strict majority of `players_online` (or of the distinct voters, if
    /// more have voted), so one vote decides only in a room of one.
    pub fn vote(
        &mut self,
        rules: &Rules,
        kind: VoteKind,
        player: &str,
        players_online: usize,
        now: Millis,
    ) -> Transition<VoteOutcome> {
        let mut events = Vec::new();
        self.player_spoke(rules, now, &mut events);
        let outcome = self.count_vote(rules, kind, player, players_online, now, &mut events);
        self.finish(&events);
        Transition { outcome, events }
    }

    fn judge(
        &mut self,
        rules: &Rules,
        player: &str,
        answer: String,
        now: Millis,
        events: &mut Vec<GameEvent>,
    ) -> Verdict {
        if !is_complete_syllables(&answer) {
            return Verdict::NotSyllables;
        }
        if chosung(&answer) != self.pattern {
            return Verdict::WrongPattern;
        }
        if !rules.bank.contains(&answer) {
            return Verdict::NotAWord;
        }
        if self.answered_words.contains(&answer) {
            return Verdict::AlreadyAnswered;
        }
        let score = self.scores.entry(player.to_owned()).or_insert(0);
        *score += 1;
        let score = *score;
        self.forget_lowest_scores(Some(player));
        if !self.is_bot(player) {
            self.ranking.record(player, now, rules.config.week);
        }
        events.push(GameEvent::Solved {
            round: self.round,
            player: player.to_owned(),
            word: answer.clone(),
            score,
        });
        self.previous = Some(RoundEnd {
            round: self.round,
            word: answer.clone(),
            winner: Some(player.to_owned()),
            reason: RoundEndReason::Solved,
        });
        self.remember_answered(answer.clone());
        self.next_question(rules, now, events);
        Verdict::Correct {
            word: answer,
            score,
        }
    }

    /// Adds an accepted word, forgetting the oldest past [`MAX_ANSWERED_WORDS`].
    fn remember_answered(&mut self, word: String) {
        self.answered_words.push(word);
        let excess = self.answered_words.len().saturating_sub(MAX_ANSWERED_WORDS);
        self.answered_words.drain(..excess);
    }

    /// Keeps the score table within [`MAX_SCORED_PLAYERS`] by dropping the lowest scores (the
    /// player who just scored stays), so a busy public room's state cannot grow without bound.
    fn forget_lowest_scores(&mut self, keep: Option<&str>) {
        while self.scores.len() > MAX_SCORED_PLAYERS {
            let lowest = self
                .scores
                .iter()
                .filter(|(name, _)| Some(name.as_str()) != keep)
                .min_by_key(|(name, score)| (**score, std::cmp::Reverse((*name).clone())))
                .map(|(name, _)| name.clone());
            match lowest {
                Some(name) => self.scores.remove(&name),
                None => break,
            };
        }
    }

    fn count_vote(
        &mut self,
        rules: &Rules,
        kind: VoteKind,
        player: &str,
        players_online: usize,
        now: Millis,
        events: &mut Vec<GameEvent>,
    ) -> VoteOutcome {
        if kind == VoteKind::Hint && self.hint_level >= self.max_hint_level() {
            return VoteOutcome::NothingToReveal;
        }
        let voters = match kind {
            VoteKind::Hint => &mut self.hint_votes,
            VoteKind::GiveUp => &mut self.give_up_votes,
        };
        if !voters.insert(player.to_owned()) {
            return VoteOutcome::AlreadyVoted;
        }
        let votes = voters.len();
        let needed = players_online.max(votes) / 2 + 1;
        events.push(GameEvent::VoteCounted {
            kind,
            player: player.to_owned(),
            votes,
            needed,
        });
        if votes < needed {
            return VoteOutcome::Counted { votes, needed };
        }
        match kind {
            VoteKind::Hint => {
                self.hint_votes.clear();
                self.hint_level += 1;
                events.push(GameEvent::HintRevealed {
                    round: self.round,
                    hint: self.hint(),
                });
            }
            VoteKind::GiveUp => {
                events.push(GameEvent::GaveUp {
                    round: self.round,
                    answer: self.question.clone(),
                });
                self.end_unsolved(RoundEndReason::GaveUp);
                self.next_question(rules, now, events);
            }
        }
        VoteOutcome::Passed
    }

    /// What any player message does first: a paused game resumes on a fresh clock; otherwise
    /// the clock is applied, and the round's first message marks it as heard from.
    fn player_spoke(&mut self, rules: &Rules, now: Millis, events: &mut Vec<GameEvent>) {
        if self.paused {
            self.paused = false;
            self.silent_timeouts = 0;
            self.heard_this_round = true;
            self.round_started_at = now;
            self.hint_level = 0;
            self.plan_bot_moves(rules, now);
            events.push(GameEvent::Resumed { round: self.round });
            return;
        }
        self.advance_clock(rules, now, events, true);
        if !self.heard_this_round {
            self.heard_this_round = true;
            self.silent_timeouts = 0;
            events.push(GameEvent::PlayerHeard { round: self.round });
        }
    }

    /// `by_player`: a player's message brought the clock up to date, so a timeout it applies
    /// does not count as silent.
    fn advance_clock(
        &mut self,
        rules: &Rules,
        now: Millis,
        events: &mut Vec<GameEvent>,
        by_player: bool,
    ) {
        if self.paused {
            return;
        }
        if let Some(planned) = self.bot_moves.first().filter(|m| m.at <= now).cloned() {
            self.bot_answers(rules, planned, now, events, by_player);
            return;
        }
        let round_ms = rules.round_ms();
        let elapsed = now.saturating_sub(self.round_started_at);
        if elapsed >= round_ms {
            events.push(GameEvent::TimedOut {
                round: self.round,
                answer: self.question.clone(),
            });
            self.end_unsolved(RoundEndReason::TimedOut);
            let silent = !self.heard_this_round && !by_player;
            // An idle room resumes with one fresh round, not a backlog of missed ones.
            self.next_question(rules, now, events);
            self.count_ended_round(silent, events);
            return;
        }
        self.reveal_hints_due(rules, elapsed, events);
    }

    /// Reveals the hints the clock owes `elapsed` into the round (at 1/3 and 2/3 of it).
    fn reveal_hints_due(&mut self, rules: &Rules, elapsed: Millis, events: &mut Vec<GameEvent>) {
        let due =
            u32::try_from(u128::from(elapsed) * 3 / u128::from(rules.round_ms())).unwrap_or(2);
        let level = due.min(self.max_hint_level());
        if level > self.hint_level {
            self.hint_level = level;
            events.push(GameEvent::HintRevealed {
                round: self.round,
                hint: self.hint(),
            });
        }
    }

    fn end_unsolved(&mut self, reason: RoundEndReason) {
        self.previous = Some(RoundEnd {
            round: self.round,
            word: self.question.clone(),
            winner: None,
            reason,
        });
    }

    /// Draws the next question not yet answered; a new deck cycle clears the answered words.
    fn next_question(&mut self, rules: &Rules, now: Millis, events: &mut Vec<GameEvent>) {
        let (first, questions) = rules.bank.theme_questions(&self.theme);
        let index = loop {
            let (index, reshuffled) = self.deck.draw(questions.len());
            if reshuffled {
                self.answered_words.clear();
                events.push(GameEvent::DeckReshuffled {
                    cycle: self.deck.cycle,
                });
            }
            if !self.answered_words.iter().any(|w| **w == *questions[index]) {
                break index;
            }
        };
        self.round += 1;
        self.question = questions[index].to_string();
        self.question_index = u32::try_from(first + index).unwrap_or(u32::MAX);
        self.pattern = chosung(&self.question);
        self.hint_level = 0;
        self.round_started_at = now;
        self.hint_votes.clear();
        self.give_up_votes.clear();
        self.heard_this_round = false;
        self.plan_bot_moves(rules, now);
        events.push(GameEvent::NewQuestion {
            round: self.round,
            pattern: self.pattern.clone(),
        });
    }

    /// A bot's planned move is due: the hints due before it show, then its word wins the round.
    /// A round nobody spoke in counts as silent, as a timeout does, so a room of bots and
    /// silent players pauses.
    fn bot_answers(
        &mut self,
        rules: &Rules,
        planned: BotMove,
        now: Millis,
        events: &mut Vec<GameEvent>,
        by_player: bool,
    ) {
        let elapsed = planned.at.saturating_sub(self.round_started_at);
        self.reveal_hints_due(rules, elapsed, events);
        let silent = !self.heard_this_round && !by_player;
        let verdict = self.judge(rules, &planned.bot, planned.word, now, events);
        debug_assert!(matches!(verdict, Verdict::Correct { .. }), "{verdict:?}");
        self.count_ended_round(silent, events);
    }

    /// A round ended by the clock (a timeout, a bot's answer): one nobody spoke in counts
    /// towards a pause, any other starts the count over.
    fn count_ended_round(&mut self, silent: bool, events: &mut Vec<GameEvent>) {
        if !silent {
            self.silent_timeouts = 0;
            return;
        }
        self.silent_timeouts += 1;
        if self.silent_timeouts >= PAUSE_AFTER_SILENT_TIMEOUTS {
            self.paused = true;
            events.push(GameEvent::Paused { round: self.round });
        }
    }

    /// Every bot decides what it does in the current round, watching from `from`. Moves that
    /// would come at or after the round's deadline are dropped: the timeout comes first.
    fn plan_bot_moves(&mut self, rules: &Rules, from: Millis) {
        self.bot_moves.clear();
        for index in 0..self.bots.len() {
            self.plan_bot_move(rules, index, from);
        }
    }

    fn plan_bot_move(&mut self, rules: &Rules, index: usize, from: Millis) {
        let Some(bot) = self.bots.get(index) else {
            return;
        };
        let words: Vec<&str> = rules
            .bank
            .other_answers(&self.pattern, "", usize::MAX)
            .into_iter()
            .filter(|word| !self.answered_words.iter().any(|answered| answered == word))
            .collect();
        let planned = bots::plan_move(
            bot,
            self.deck.seed ^ self.id,
            self.round,
            from,
            syllable_count(&self.question),
            &words,
        );
        if let Some(planned) = planned.filter(|m| m.at < self.round_deadline(rules)) {
            let at = self.bot_moves.partition_point(|m| m.at <= planned.at);
            self.bot_moves.insert(at, planned);
        }
    }

    /// Seats a bot of `level` (1 to 5), named after its level; it plays from now on. A
    /// player's request, so it applies the clock and resumes a paused room as their messages
    /// do.
    pub fn add_bot(
        &mut self,
        rules: &Rules,
        level: u8,
        now: Millis,
    ) -> Transition<Result<String, BotRefusal>> {
        let mut events = Vec::new();
        let outcome = self.seat_bot(rules, level, now, &mut events);
        self.finish(&events);
        Transition { outcome, events }
    }

    fn seat_bot(
        &mut self,
        rules: &Rules,
        level: u8,
        now: Millis,
        events: &mut Vec<GameEvent>,
    ) -> Result<String, BotRefusal> {
        let Some(kind) = bots::level(level) else {
            return Err(BotRefusal::NoSuchLevel);
        };
        if self.bots.len() >= MAX_BOTS {
            return Err(BotRefusal::TooMany);
        }
        // A player asked: like any of their messages, this resumes a paused room.
        self.player_spoke(rules, now, events);
        let base = format!("{} {}", bots::BOT_NAME_PREFIX, kind.name);
        let name = (1..)
            .map(|n| {
                if n == 1 {
                    base.clone()
                } else {
                    format!("{base} {n}")
                }
            })
            .find(|name| !self.bots.iter().any(|bot| bot.name == *name))
            .unwrap_or(base);
        self.bots.push(Bot {
            name: name.clone(),
            level,
        });
        if !self.paused {
            self.plan_bot_move(rules, self.bots.len() - 1, now);
        }
        events.push(GameEvent::BotJoined {
            name: name.clone(),
            level,
        });
        Ok(name)
    }

    /// Removes the newest bot (a player's request, like [`Game::add_bot`]).
    pub fn remove_bot(
        &mut self,
        rules: &Rules,
        now: Millis,
    ) -> Transition<Result<String, BotRefusal>> {
        let mut events = Vec::new();
        if self.bots.is_empty() {
            return Transition {
                outcome: Err(BotRefusal::NoBots),
                events,
            };
        }
        self.player_spoke(rules, now, &mut events);
        let outcome = match self.bots.pop() {
            Some(bot) => {
                self.bot_moves.retain(|m| m.bot != bot.name);
                events.push(GameEvent::BotLeft {
                    name: bot.name.clone(),
                });
                Ok(bot.name)
            }
            None => Err(BotRefusal::NoBots),
        };
        self.finish(&events);
        Transition { outcome, events }
    }

    /// Every bot leaves (the room has no player left to play with them); nothing of theirs
    /// stays planned.
    pub fn dismiss_bots(&mut self) -> Vec<GameEvent> {
        let events: Vec<GameEvent> = self
            .bots
            .drain(..)
            .map(|bot| GameEvent::BotLeft { name: bot.name })
            .collect();
        self.bot_moves.clear();
        self.finish(&events);
        events
    }

    fn finish(&mut self, events: &[GameEvent]) {
        if !events.is_empty() {
            self.version += 1;
        }
    }

    /// Hints reveal at most all but the last syllable.
    fn max_hint_level(&self) -> u32 {
        u32::try_from(syllable_count(&self.question).saturating_sub(1)).unwrap_or(0)
    }

    /// The pattern with the first `hint_level` syllables of the question revealed: `강ㅇㅈ`.
    pub fn hint(&self) -> String {
        let revealed = self.hint_level as usize;
        let shown: String = self.question.chars().take(revealed).collect();
        let hidden: String = self.pattern.chars().skip(revealed).collect();
        shown + &hidden
    }

    pub fn id(&self) -> u64 {
        self.id
    }
    /// Grows by one on every change; never on a call that changed nothing.
    pub fn version(&self) -> u64 {
        self.version
    }
    /// The current round, from 1.
    pub fn round(&self) -> u32 {
        self.round
    }
    /// The word the current pattern was drawn from. Secret until the round ends.
    pub fn question(&self) -> &str {
        &self.question
    }
    /// Index of the question in [`WordBank::questions`].
    pub fn question_index(&self) -> u32 {
        self.question_index
    }
    /// The chosung pattern players must match (`ㄱㅇㅈ`).
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
    /// How many syllables of the question are revealed.
    pub fn hint_level(&self) -> u32 {
        self.hint_level
    }
    pub fn round_started_at(&self) -> Millis {
        self.round_started_at
    }
    /// When the current round times out.
    pub fn round_deadline(&self, rules: &Rules) -> Millis {
        self.round_started_at.saturating_add(rules.round_ms())
    }
    /// The last [`MAX_ANSWERED_WORDS`] words accepted since the deck was last reshuffled,
    /// oldest first.
    pub fn answered_words(&self) -> &[String] {
        &self.answered_words
    }
    /// Rounds won per player name.
    pub fn scores(&self) -> &BTreeMap<String, u32> {
        &self.scores
    }
    pub fn score(&self, player: &str) -> u32 {
        self.scores.get(player).copied().unwrap_or(0)
    }
    /// Players who voted in this round, per kind.
    pub fn votes(&self, kind: VoteKind) -> &BTreeSet<String> {
        match kind {
            VoteKind::Hint => &self.hint_votes,
            VoteKind::GiveUp => &self.give_up_votes,
        }
    }
    pub fn deck(&self) -> &Deck {
        &self.deck
    }
    /// How the last round ended, if one has.
    pub fn previous(&self) -> Option<&RoundEnd> {
        self.previous.as_ref()
    }
    /// Whether the clock is stopped until a player speaks (see [`PAUSE_AFTER_SILENT_TIMEOUTS`]).
    pub fn is_paused(&self) -> bool {
        self.paused
    }
    /// Rounds in a row that timed out with no player message.
    pub fn silent_timeouts(&self) -> u32 {
        self.silent_timeouts
    }
    /// The theme questions are drawn from: a list's id, or [`ALL_THEMES`].
    pub fn theme(&self) -> &str {
        if self.theme.is_empty() {
            ALL_THEMES
        } else {
            &self.theme
        }
    }
    /// The room's ranking: correct answers this week and for all time.
    pub fn ranking(&self) -> &Ranking {
        &self.ranking
    }
    /// The room's bots, oldest first.
    pub fn bots(&self) -> &[Bot] {
        &self.bots
    }
    /// Whether `player` is one of the room's bots (or was: every bot name is marked).
    pub fn is_bot(&self, player: &str) -> bool {
        bots::is_bot_name(player) || self.bots.iter().any(|bot| bot.name == player)
    }
    /// What the bots plan to do this round, earliest first.
    pub fn bot_moves(&self) -> &[BotMove] {
        &self.bot_moves
    }
}

/// `ㅈㅈ` (from 졌지) and `gg` are how Korean players concede a round.
fn is_give_up_word(answer: &str) -> bool {
    answer == "ㅈㅈ" || answer.eq_ignore_ascii_case("gg")
}
