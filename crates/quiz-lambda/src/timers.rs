//! Waking a room's game when its clock says so: the timer messages, and the queue that
//! delivers them back to the handler.
//!
//! After every write that sets a new wake-up ([`quiz_core::game::Game::next_wake`]: a new
//! round, a hint revealed, the room's first game, a resume), the handler schedules one
//! [`Timer`] for that room and instant. When it fires, [`App::fire_timer`] applies the clock,
//! broadcasts the change and schedules the next one.
//!
//! On AWS the queue is SQS ([`SqsTimers`]): EventBridge Scheduler only fires with one-minute
//! precision, while a message's `DelaySeconds` (0 to 900, whole seconds) hides it until its
//! instant, and the function's event source mapping on the queue delivers it. quiz-local runs
//! the same timers in process, or on a real SQS API.
//!
//! A timer names the instant it was set for, so delivery may be early, late or repeated: it
//! only acts while the game still wants waking at exactly that instant.
//!
//! [`App::fire_timer`]: crate::handler::App::fire_timer

use std::future::Future;

use aws_sdk_sqs::error::DisplayErrorContext;
use quiz_core::game::Millis;
use serde::{Deserialize, Serialize};

/// SQS's longest delay: a wake-up further away is sent with this delay, arrives early, and is
/// sent again for the rest.
pub const MAX_DELAY_SECS: u64 = 900;

/// "Wake room `room`'s game `game_id` at `at`": the body of a timer message,
/// `{"at":1795310079205,"endpoint":"https://…/dev","gameId":1172390427,"room":"general"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timer {
    pub room: String,
    pub game_id: u64,
    /// Milliseconds since the Unix epoch.
    pub at: Millis,
    /// The management API to broadcast through, taken from the event that set the timer (a
    /// timer event has no domain of its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

impl Timer {
    /// The message body.
    pub fn to_body(&self) -> String {
        serde_json::json!({
            "room": self.room,
            "gameId": self.game_id,
            "at": self.at,
            "endpoint": self.endpoint,
        })
        .to_string()
    }

    /// Reads a message body written by [`Timer::to_body`].
    pub fn from_body(body: &str) -> Result<Timer, serde_json::Error> {
        serde_json::from_str(body)
    }

    /// SQS's `DelaySeconds` for this timer sent at `now`: rounded up, so it never fires early
    /// unless it is more than [`MAX_DELAY_SECS`] away.
    pub fn delay_secs(&self, now: Millis) -> u64 {
        self.at
            .saturating_sub(now)
            .div_ceil(1_000)
            .min(MAX_DELAY_SECS)
    }
}

/// Why a timer could not be scheduled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("could not schedule the timer: {0}")]
pub struct ScheduleError(pub String);

/// Something that delivers a [`Timer`] back to [`App::fire_timer`] at its instant.
///
/// [`App::fire_timer`]: crate::handler::App::fire_timer
pub trait TimerQueue: Send + Sync {
    /// Schedules `timer`; `now` is the current time.
    fn schedule(
        &self,
        timer: &Timer,
        now: Millis,
    ) -> impl Future<Output = Result<(), ScheduleError>> + Send;
}

/// No queue: rounds then advance only when players send messages (the lazy clock).
impl<T: TimerQueue> TimerQueue for Option<T> {
    async fn schedule(&self, timer: &Timer, now: Millis) -> Result<(), ScheduleError> {
        match self {
            Some(queue) => queue.schedule(timer, now).await,
            None => Ok(()),
        }
    }
}

/// Timers as SQS messages with `DelaySeconds`.
#[derive(Debug, Clone)]
pub struct SqsTimers {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsTimers {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: String) -> Self {
        SqsTimers { client, queue_url }
    }

    pub fn client(&self) -> &aws_sdk_sqs::Client {
        &self.client
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }
}

impl TimerQueue for SqsTimers {
    async fn schedule(&self, timer: &Timer, now: Millis) -> Result<(), ScheduleError> {
        let delay = i32::try_from(timer.delay_secs(now)).unwrap_or(0);
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(timer.to_body())
            .delay_seconds(delay)
            .send()
            .await
            .map(drop)
            .map_err(|err| ScheduleError(DisplayErrorContext(&err).to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_up_to_whole_seconds_within_sqs_limits() {
        let timer = |at| Timer {
            room: "r".into(),
            game_id: 1,
            at,
            endpoint: None,
        };
        assert_eq!(timer(10_000).delay_secs(10_000), 0);
        assert_eq!(timer(10_001).delay_secs(10_000), 1);
        assert_eq!(timer(30_000).delay_secs(10_000), 20);
        assert_eq!(timer(9_000).delay_secs(10_000), 0, "already due");
        assert_eq!(timer(3_600_000).delay_secs(0), MAX_DELAY_SECS);
    }

    #[test]
    fn the_body_round_trips_and_names_its_fields() {
        let timer = Timer {
            room: "거실".into(),
            game_id: 1_172_390_427,
            at: 1_795_310_079_205,
            endpoint: Some("https://abc.execute-api.us-east-1.amazonaws.com/dev".into()),
        };
        let body = timer.to_body();
        assert_eq!(
            body,
            r#"{"at":1795310079205,"endpoint":"https://abc.execute-api.us-east-1.amazonaws.com/dev","gameId":1172390427,"room":"거실"}"#
        );
        assert_eq!(Timer::from_body(&body).unwrap(), timer);
        let bare = Timer::from_body(r#"{"at":5,"gameId":1,"room":"a"}"#).unwrap();
        assert_eq!(bare.endpoint, None);
        assert!(Timer::from_body("{}").is_err());
    }
}
