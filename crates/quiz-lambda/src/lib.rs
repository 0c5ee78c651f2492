//! The adapter between API Gateway's WebSocket API and the chosung quiz.
//!
//! This is the only crate that knows the wire protocol ([`protocol`]) and API Gateway
//! ([`handler`], [`broadcast`]). It parses events, asks [`quiz_core`] what they mean, persists
//! through [`quiz_store`], and posts what changed to the room. It decides no game rule itself.
//! When a change sets a new wake-up for the game, it schedules a timer ([`timers`]), which
//! comes back as an event of its own (an SQS batch on AWS, [`invocation`]).
//!
//! Two binaries run the same [`handler::App`]: `bootstrap` under `lambda_runtime` in AWS, and
//! `quiz-local` (the `quiz-local` crate), a stand-in for API Gateway's WebSocket API on one
//! machine.

pub mod broadcast;
pub mod config;
pub mod handler;
pub mod invocation;
pub mod logging;
pub mod protocol;
pub mod tally;
pub mod timers;
