//! End-to-end tests: real WebSocket clients (tokio-tungstenite) against the local API Gateway
//! (`quiz-local`), which runs the same handler as Lambda. Every case runs four times: on the
//! embedded store and on DynamoDB Local (started for this process unless `DYNAMODB_ENDPOINT`
//! names one; each test gets its own tables), each with the handler posting in process
//! (quiz-local's default) and over HTTP to the management API (the deployed function's path).
//!
//! The gateway is started in-process through `LocalServer::start`, the function the
//! `quiz-local` binary wraps: cargo gives these tests no path to another package's binary.

mod bots;
mod cases;
mod clock;
mod flood;
mod rooms;
mod support;

/// One `#[tokio::test]` per case, on the store `$store()` makes, with the handler posting in
/// process (quiz-local's default) or, with `over_http`, through its SDK client to the
/// management API as the deployed function does.
macro_rules! e2e_suite {
    ($store:path) => {
        e2e_suite!($store, false);
    };
    ($store:path, over_http) => {
        e2e_suite!($store, true);
    };
    ($store:path, $over_http:literal) => {
        e2e_suite!(@cases $store, $over_http;
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
        e2e_suite!(@flood $store, $over_http;
            a_flooder_is_held_to_the_limit_and_closed,
            a_client_that_never_reads_gets_429_not_the_room,
            a_throttled_account_loses_no_chat_line,
        );
        e2e_suite!(@rooms $store, $over_http;
            a_themed_room_asks_only_its_theme,
            a_lone_give_up_passes_beside_two_spectators,
            an_answer_typed_in_latin_mode_counts,
            the_ranking_shows_the_winner_and_reports_are_kept,
        );
    };
    (@cases $store:path, $over_http:literal; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                crate::support::posting_over_http($over_http, crate::cases::$case($store().await))
                    .await;
            }
        )+
    };
    (@rooms $store:path, $over_http:literal; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                crate::support::posting_over_http($over_http, crate::rooms::$case($store().await))
                    .await;
            }
        )+
    };
    (@flood $store:path, $over_http:literal; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                crate::support::posting_over_http($over_http, crate::flood::$case($store().await))
                    .await;
            }
        )+
    };
}

mod memory {
    e2e_suite!(crate::support::memory_store);
}

/// The deployed function's path: posts as signed HTTP requests to `@connections`.
mod memory_over_http {
    e2e_suite!(crate::support::memory_store, over_http);
}

mod dynamodb {
    e2e_suite!(crate::support::dynamo_store);
}

mod dynamodb_over_http {
    e2e_suite!(crate::support::dynamo_store, over_http);
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
        clock_suite!(@bots $store, $timers;
            a_strong_bot_wins_rounds_against_a_silent_player,
            a_player_racing_a_bot_leaves_one_winner,
            bots_do_not_vote_and_two_is_the_limit,
            the_bots_leave_with_the_last_player,
        );
    };
    (@bots $store:path, $timers:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let case = crate::bots::$case($store().await, $timers().await);
                crate::support::posting_over_http(false, case).await;
            }
        )+
    };
    (@cases $store:path, $timers:path; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let case = crate::clock::$case($store().await, $timers().await);
                crate::support::posting_over_http(false, case).await;
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
        let case = crate::clock::an_abandoned_room_leaves_the_queue_empty(
            crate::support::memory_store().await,
        );
        crate::support::posting_over_http(false, case).await;
    }
}
