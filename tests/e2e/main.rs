//! End-to-end tests: real WebSocket clients (tokio-tungstenite) against the local API Gateway
//! (`quiz-local`), which runs the same handler as Lambda. Every case runs twice: on the
//! embedded store and on DynamoDB Local (started for this process unless `DYNAMODB_ENDPOINT`
//! names one; each test gets its own tables).
//!
//! The gateway is started in-process through `LocalServer::start`, the function the
//! `quiz-local` binary wraps: cargo gives these tests no path to another package's binary.

mod cases;
mod support;

/// One `#[tokio::test]` per case, on the store `$store()` makes.
macro_rules! e2e_suite {
    ($store:path) => {
        e2e_suite!(@cases $store;
            android_session,
            rooms_are_independent,
            reconnecting_keeps_the_score,
            fifty_players_answer_at_once,
            vanished_and_stale_connections_are_pruned,
            bad_input_is_refused,
            hints_and_timeouts,
            idle_connections_are_closed,
            management_api_answers_like_api_gateway,
            shutdown_closes_every_connection,
        );
    };
    (@cases $store:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                crate::cases::$case($store().await).await;
            }
        )+
    };
}

mod memory {
    e2e_suite!(crate::support::memory_store);
}

mod dynamodb {
    e2e_suite!(crate::support::dynamo_store);
}
