//! End-to-end tests: real WebSocket clients (tokio-tungstenite) against the local API Gateway
//! (`quiz-local`), which runs the same handler as Lambda. Every case runs twice: on the
//! embedded store and on DynamoDB Local (started for this process unless `DYNAMODB_ENDPOINT`
//! names one; each test gets its own tables).
//!
//! The gateway is started in-process through `LocalServer::start`, the function the
//! `quiz-local` binary wraps: cargo gives these tests no path to another package's binary.

mod cases;
mod clock;
mod flood;
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
            idle_connections_are_closed,
            management_api_answers_like_api_gateway,
            shutdown_closes_every_connection,
        );
        e2e_suite!(@flood $store;
            a_flooder_is_held_to_the_limit_and_closed,
            a_client_that_never_reads_gets_429_not_the_room,
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
    (@flood $store:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                crate::flood::$case($store().await).await;
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

/// One `#[tokio::test]` per clock case, on the store `$store()` makes with the timers
/// `$timers()` says.
macro_rules! clock_suite {
    ($store:path, $timers:path) => {
        clock_suite!(@cases $store, $timers;
            a_silent_room_hears_hints_and_the_timeout,
            an_answer_racing_the_timeout_ends_the_round_once,
            a_silent_room_pauses_and_a_chat_wakes_it,
        );
    };
    (@cases $store:path, $timers:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                crate::clock::$case($store().await, $timers().await).await;
            }
        )+
    };
}

mod clock_memory {
    clock_suite!(
        crate::support::memory_store,
        crate::support::in_process_timers
    );
}

mod clock_dynamodb {
    clock_suite!(
        crate::support::dynamo_store,
        crate::support::in_process_timers
    );
}

/// The AWS path: timers as SQS messages with `DelaySeconds`, long-polled from moto.
mod clock_sqs {
    clock_suite!(crate::support::memory_store, crate::support::moto_timers);

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_room_leaves_the_queue_empty() {
        crate::clock::an_abandoned_room_leaves_the_queue_empty(
            crate::support::memory_store().await,
        )
        .await;
    }
}
