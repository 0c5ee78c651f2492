//! The conformance suite on [`DynamoStore`] against DynamoDB Local, plus what only DynamoDB has:
//! raw item shapes, table settings, error mapping and items that do not parse.
//!
//! DynamoDB Local is started for this test process by `quiz_testkit::dynamodb_local` unless
//! `DYNAMODB_ENDPOINT` names one.

mod conformance;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CreateGlobalSecondaryIndexAction,
    GlobalSecondaryIndex, GlobalSecondaryIndexUpdate, IndexStatus, KeySchemaElement, KeyType,
    Projection, ProjectionType, ScalarAttributeType, TimeToLiveStatus,
};
use quiz_core::game::Game;
use quiz_store::items;
use quiz_store::{
    table_specs, update_game, Connection, ConnectionId, DynamoStore, ErrorKind, NewChatLine,
    Report, ReportKind, Room, RoomMember, Store, StoreError, TableNames, CONNECTION_TTL_SECS,
    ROOM_INDEX, ROOM_MEMBERS_INDEX,
};
use quiz_testkit::dynamodb_local::{self, fresh_store, local_dynamo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An index as (name, key schema as (attribute, HASH or RANGE), projection type, non-key
/// attributes).
type Index = (String, Vec<(String, String)>, String, Vec<String>);

conformance_suite!(async {
    fresh_store()
        .await
        .unwrap_or_else(|err| panic!("no DynamoDB Local for the tests: {err}"))
});

async fn store() -> DynamoStore {
    fresh_store()
        .await
        .unwrap_or_else(|err| panic!("no DynamoDB Local for the tests: {err}"))
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn now_millis() -> u64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(elapsed.as_millis()).unwrap()
}

#[tokio::test]
async fn user_rows_expire_through_ttl_on_expires_at() {
    let store = store().await;
    let now = now_millis();
    let connection = Connection::new(
        ConnectionId("conn-ttl".into()),
        Room("lobby".into()),
        None,
        now,
    );
    store.put_connection(&connection).await.unwrap();

    let raw = store
        .client()
        .get_item()
        .table_name(&store.table_names().user)
        .key("connectionId", s("conn-ttl"))
        .send()
        .await
        .unwrap();
    let item = raw.item().expect("the row was written");
    let Some(AttributeValue::N(expires_at)) = item.get("expiresAt") else {
        panic!("expiresAt must be a number for DynamoDB's TTL: {item:?}");
    };
    let expires_at: u64 = expires_at.parse().unwrap();
    let now_secs = now / 1_000;
    assert!(
        (now_secs + 2 * 3_600..=now_secs + 2 * 3_600 + 15 * 60).contains(&expires_at),
        "expiresAt {expires_at} should be about two hours after {now_secs}"
    );
    assert_eq!(expires_at, now_secs + CONNECTION_TTL_SECS);
    assert_eq!(
        item.get("connectedAt"),
        Some(&AttributeValue::N(now.to_string()))
    );
    assert_eq!(item.get("room"), Some(&s("lobby")));
    assert!(!item.contains_key("username"), "no name until one is bound");
    assert_eq!(items::schema_version(item), items::SCHEMA_VERSION);

    let names = store.table_names();
    for (table, expected) in [
        (&names.user, Some("expiresAt")),
        (&names.chat, Some("expiresAt")),
        (&names.game, None),
        (&names.report, None),
    ] {
        let ttl = store
            .client()
            .describe_time_to_live()
            .table_name(table)
            .send()
            .await
            .unwrap();
        let description = ttl.time_to_live_description().expect("a TTL description");
        match expected {
            Some(attribute) => {
                assert_eq!(
                    description.time_to_live_status(),
                    Some(&TimeToLiveStatus::Enabled),
                    "{table}"
                );
                assert_eq!(description.attribute_name(), Some(attribute), "{table}");
            }
            None => assert_ne!(
                description.time_to_live_status(),
                Some(&TimeToLiveStatus::Enabled),
                "{table}"
            ),
        }
    }
}

#[tokio::test]
async fn chat_items_have_the_documented_shape() {
    let store = store().await;
    let line = NewChatLine {
        room: Room("lobby".into()),
        username: "민지".into(),
        content: "강아지".into(),
        connection_id: ConnectionId("conn-1".into()),
        correct: true,
        sent_at: conformance::NOW + 123,
        expires_at: Some(4_200_000_000),
    };
    let stored = store.append_chat(&line).await.unwrap();
    let raw = store
        .client()
        .get_item()
        .table_name(&store.table_names().chat)
        .key("room", s("lobby"))
        .key("sentAt", s(&stored.sent_at))
        .send()
        .await
        .unwrap();
    let item = raw.item().expect("the line was written");
    let expected: HashMap<String, AttributeValue> = HashMap::from([
        ("room".into(), s("lobby")),
        ("sentAt".into(), s(&stored.sent_at)),
        ("username".into(), s("민지")),
        ("content".into(), s("강아지")),
        ("connectionId".into(), s("conn-1")),
        ("correct".into(), AttributeValue::Bool(true)),
        ("expiresAt".into(), AttributeValue::N("4200000000".into())),
        (
            "schemaVersion".into(),
            AttributeValue::N(items::SCHEMA_VERSION.to_string()),
        ),
    ]);
    assert_eq!(item, &expected);
    assert!(
        stored.sent_at.starts_with("2100-01-01T00:00:00.123Z#"),
        "{}",
        stored.sent_at
    );
}

#[tokio::test]
async fn game_items_hold_version_and_state_map() {
    let store = store().await;
    let rules = conformance::rules();
    let game = Game::new(&rules, 3, 5, conformance::NOW);
    store
        .save_game(&Room("lobby".into()), &game, None)
        .await
        .unwrap();
    let raw = store
        .client()
        .get_item()
        .table_name(&store.table_names().game)
        .key("room", s("lobby"))
        .send()
        .await
        .unwrap();
    let item = raw.item().expect("the game was written");
    assert_eq!(
        item.get("version"),
        Some(&AttributeValue::N(game.version().to_string()))
    );
    let Some(AttributeValue::M(state)) = item.get("state") else {
        panic!("state must be a map: {item:?}");
    };
    // camelCase field names, as quiz-core's serde form has them.
    assert_eq!(
        state.get("roundStartedAt"),
        Some(&AttributeValue::N(conformance::NOW.to_string()))
    );
    assert!(matches!(item.get("updatedAt"), Some(AttributeValue::N(_))));
    assert!(matches!(item.get("writeId"), Some(AttributeValue::S(_))));
    assert_eq!(items::schema_version(item), items::SCHEMA_VERSION);
    assert_eq!(
        item.get("schemaVersion"),
        Some(&AttributeValue::N("2".into()))
    );
}

/// A game the previous release stored has no `silentTimeouts` or `paused` in its state map: it
/// still loads, as a running game, and saves again.
#[tokio::test]
async fn a_game_item_from_before_the_clock_fields_still_loads() {
    let store = store().await;
    let rules = conformance::rules();
    let room = Room("upgraded".into());
    let game = Game::new(&rules, 3, 5, conformance::NOW);
    store.save_game(&room, &game, None).await.unwrap();
    let state_keys = || async {
        let raw = store
            .client()
            .get_item()
            .table_name(&store.table_names().game)
            .key("room", s("upgraded"))
            .send()
            .await
            .unwrap();
        match raw.item().and_then(|item| item.get("state")) {
            Some(AttributeValue::M(state)) => state.keys().cloned().collect::<BTreeSet<_>>(),
            other => panic!("state must be a map: {other:?}"),
        }
    };
    assert!(state_keys().await.contains("paused"));
    store
        .client()
        .update_item()
        .table_name(&store.table_names().game)
        .key("room", s("upgraded"))
        .update_expression("REMOVE #state.silentTimeouts, #state.paused")
        .expression_attribute_names("#state", "state")
        .send()
        .await
        .unwrap();
    let keys = state_keys().await;
    assert!(
        !keys.contains("paused") && !keys.contains("silentTimeouts"),
        "{keys:?}"
    );

    let mut loaded = store
        .load_game(&room)
        .await
        .unwrap()
        .expect("the game loads");
    assert!(!loaded.is_paused());
    assert_eq!(loaded.silent_timeouts(), 0);
    assert_eq!(loaded, game);
    let wake = loaded.next_wake(&rules).expect("a running game wakes");
    assert!(!loaded.tick(&rules, wake).is_empty());
    store
        .save_game(&room, &loaded, Some(game.version()))
        .await
        .unwrap();
}

#[tokio::test]
async fn create_tables_matches_the_specs_and_is_idempotent() {
    let store = store().await;
    // A second run finds the tables there and TTL on.
    store.create_tables().await.unwrap();
    for spec in table_specs(store.table_names()) {
        let described = store
            .client()
            .describe_table()
            .table_name(&spec.name)
            .send()
            .await
            .unwrap();
        let table = described.table().expect("a table description");
        let attributes: BTreeSet<(String, String)> = table
            .attribute_definitions()
            .iter()
            .map(|a| {
                (
                    a.attribute_name().to_owned(),
                    a.attribute_type().as_str().to_owned(),
                )
            })
            .collect();
        let expected: BTreeSet<(String, String)> = spec
            .attribute_definitions()
            .iter()
            .map(|a| (a.name.to_owned(), a.attribute_type.to_owned()))
            .collect();
        assert_eq!(attributes, expected, "{}", spec.name);

        let keys: Vec<(String, String)> = table
            .key_schema()
            .iter()
            .map(|k| {
                (
                    k.attribute_name().to_owned(),
                    k.key_type().as_str().to_owned(),
                )
            })
            .collect();
        let mut expected_keys = vec![(spec.partition_key.name.to_owned(), "HASH".to_owned())];
        if let Some(sort) = spec.sort_key {
            expected_keys.push((sort.name.to_owned(), "RANGE".to_owned()));
        }
        assert_eq!(keys, expected_keys, "{}", spec.name);

        let indexes: Vec<Index> = table
            .global_secondary_indexes()
            .iter()
            .map(|index| {
                (
                    index.index_name().unwrap_or_default().to_owned(),
                    index
                        .key_schema()
                        .iter()
                        .map(|k| {
                            (
                                k.attribute_name().to_owned(),
                                k.key_type().as_str().to_owned(),
                            )
                        })
                        .collect(),
                    index
                        .projection()
                        .and_then(|p| p.projection_type())
                        .map(|p| p.as_str().to_owned())
                        .unwrap_or_default(),
                    index
                        .projection()
                        .map(|p| p.non_key_attributes().to_vec())
                        .unwrap_or_default(),
                )
            })
            .collect();
        let expected_indexes: Vec<Index> = spec
            .indexes
            .iter()
            .map(|index| {
                let mut keys = vec![(index.partition_key.name.to_owned(), "HASH".to_owned())];
                if let Some(sort) = index.sort_key {
                    keys.push((sort.name.to_owned(), "RANGE".to_owned()));
                }
                (
                    index.name.to_owned(),
                    keys,
                    index.projection_type.to_owned(),
                    index
                        .non_key_attributes
                        .iter()
                        .map(|name| (*name).to_owned())
                        .collect(),
                )
            })
            .collect();
        // DescribeTable lists the indexes in no particular order.
        let sorted = |mut indexes: Vec<Index>| {
            indexes.sort();
            indexes
        };
        assert_eq!(sorted(indexes), sorted(expected_indexes), "{}", spec.name);

        let billing = table
            .billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|b| b.as_str().to_owned());
        assert_eq!(billing.as_deref(), Some(spec.billing_mode), "{}", spec.name);
    }
}

async fn put_raw(store: &DynamoStore, table: &str, item: HashMap<String, AttributeValue>) {
    store
        .client()
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

fn corrupt_of(result: Result<impl std::fmt::Debug, StoreError>) -> (String, String, String) {
    match result {
        Err(StoreError::Corrupt {
            table, key, reason, ..
        }) => (table, key, reason),
        other => panic!("expected a corrupt-item error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_game_that_does_not_parse_is_corrupt_naming_table_and_key() {
    let store = store().await;
    let game_table = store.table_names().game.clone();
    let rules = conformance::rules();

    // A state map that is not a Game.
    put_raw(
        &store,
        &game_table,
        HashMap::from([
            ("room".into(), s("broken")),
            ("version".into(), AttributeValue::N("3".into())),
            (
                "state".into(),
                AttributeValue::M(HashMap::from([("round".into(), s("not a number"))])),
            ),
        ]),
    )
    .await;
    let (table, key, reason) = corrupt_of(store.load_game(&Room("broken".into())).await);
    assert_eq!(
        (table.as_str(), key.as_str()),
        (game_table.as_str(), "broken")
    );
    assert!(reason.contains("state"), "{reason}");
    let message = store
        .load_game(&Room("broken".into()))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        message.contains(&game_table) && message.contains("broken"),
        "{message}"
    );

    // What can still be read comes with the error: the version (no scores in this one).
    let err = store.load_game(&Room("broken".into())).await.unwrap_err();
    let salvaged = err.salvaged().expect("a game item is salvaged");
    assert_eq!(salvaged.version, Some(3));
    assert!(salvaged.scores.is_empty());

    // update_game restarts the room instead of passing the error on.
    let updated = update_game(
        &store,
        &Room("broken".into()),
        || Game::new(&rules, 1, 1, conformance::NOW),
        |_| (),
    )
    .await
    .unwrap();
    assert!(updated.changed);
    assert_eq!(updated.game.version(), 4);
    assert_eq!(
        store.load_game(&Room("broken".into())).await.unwrap(),
        Some(updated.game)
    );

    // A state that is not a map at all.
    put_raw(
        &store,
        &game_table,
        HashMap::from([
            ("room".into(), s("stringy")),
            ("version".into(), AttributeValue::N("1".into())),
            ("state".into(), s("{}")),
        ]),
    )
    .await;
    let (_, key, reason) = corrupt_of(store.load_game(&Room("stringy".into())).await);
    assert_eq!(key, "stringy");
    assert!(reason.contains("map"), "{reason}");

    // A good state whose version attribute disagrees with it.
    let game = Game::new(&rules, 1, 1, conformance::NOW);
    let state: HashMap<String, AttributeValue> = serde_dynamo::to_item(&game).unwrap();
    put_raw(
        &store,
        &game_table,
        HashMap::from([
            ("room".into(), s("skewed")),
            ("version".into(), AttributeValue::N("77".into())),
            ("state".into(), AttributeValue::M(state)),
        ]),
    )
    .await;
    let (_, key, reason) = corrupt_of(store.load_game(&Room("skewed".into())).await);
    assert_eq!(key, "skewed");
    assert!(reason.contains("77"), "{reason}");
}

#[tokio::test]
async fn connection_and_chat_items_that_do_not_parse_are_corrupt() {
    let store = store().await;
    let names = store.table_names().clone();
    put_raw(
        &store,
        &names.user,
        HashMap::from([
            ("connectionId".into(), s("no-room")),
            ("connectedAt".into(), AttributeValue::N("1".into())),
            ("expiresAt".into(), AttributeValue::N("2".into())),
        ]),
    )
    .await;
    let (table, key, reason) =
        corrupt_of(store.get_connection(&ConnectionId("no-room".into())).await);
    assert_eq!((table, key), (names.user.clone(), "no-room".to_owned()));
    assert!(reason.contains("room"), "{reason}");

    put_raw(
        &store,
        &names.chat,
        HashMap::from([
            ("room".into(), s("lobby")),
            ("sentAt".into(), s("2023-11-14T22:13:20.000Z#00000000")),
            ("username".into(), s("민지")),
            ("connectionId".into(), s("c")),
            ("correct".into(), s("yes")),
            ("content".into(), s("hi")),
        ]),
    )
    .await;
    let (table, key, reason) = corrupt_of(store.recent_chat(&Room("lobby".into()), 5).await);
    assert_eq!(table, names.chat);
    assert_eq!(key, "lobby/2023-11-14T22:13:20.000Z#00000000");
    assert!(reason.contains("correct"), "{reason}");
}

#[tokio::test]
async fn a_missing_table_is_gone_and_named() {
    let local = local_dynamo().await.unwrap();
    let store = DynamoStore::new(local.client(), TableNames::with_prefix("never-created-"));
    let err = store
        .get_connection(&ConnectionId("c".into()))
        .await
        .unwrap_err();
    let StoreError::Gone { operation, source } = &err else {
        panic!("expected a missing table to be gone, got {err:?}");
    };
    assert!(operation.contains("never-created-User"), "{operation}");
    let source = source.as_ref().expect("the SDK error is kept");
    assert!(
        format!("{}", DisplayErrorContext(source.as_ref())).contains("ResourceNotFound"),
        "{source:?}"
    );
    let message = err.to_string();
    assert!(message.contains("ResourceNotFound"), "{message}");
    assert_eq!(err.kind(), ErrorKind::Gone);
    assert!(err.kind().needs_attention());
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn no_server_is_unavailable_and_retryable() {
    // A port that was free a moment ago: nothing answers there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = local_dynamo()
        .await
        .unwrap()
        .client()
        .config()
        .to_builder()
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(RetryConfig::disabled())
        .build();
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::from_conf(config),
        TableNames::default(),
    );
    let err = store.load_game(&Room("lobby".into())).await.unwrap_err();
    assert!(
        matches!(
            &err,
            StoreError::Unavailable {
                source: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(!err.kind().needs_attention());
    assert!(err.is_retryable());
    assert!(std::error::Error::source(&err).is_some());
    assert!(err.to_string().contains("GetItem"), "{err}");
}

/// A server that answers every request with `status` and a DynamoDB error body of type
/// `code` (none when `None`), as DynamoDB answers the errors it sends.
async fn answering(status: u16, code: Option<&'static str>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let body = match code {
        Some(code) => format!(
            r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"as the test says"}}"#
        ),
        None => "{}".to_owned(),
    };
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                // Read the request's head and body, then answer.
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                loop {
                    let read = client.read(&mut buffer).await.unwrap_or(0);
                    if read == 0 {
                        return;
                    }
                    request.extend_from_slice(&buffer[..read]);
                    let text = String::from_utf8_lossy(&request).to_lowercase();
                    let Some(head_end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let length: usize = text
                        .lines()
                        .find_map(|line| line.strip_prefix("content-length:"))
                        .and_then(|value| value.trim().parse().ok())
                        .unwrap_or(0);
                    if request.len() >= head_end + 4 + length {
                        break;
                    }
                }
                let answer = format!(
                    "HTTP/1.1 {status} Answer\r\ncontent-type: application/x-amz-json-1.0\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = client.write_all(answer.as_bytes()).await;
            });
        }
    });
    endpoint
}

#[tokio::test]
async fn sdk_errors_keep_their_kind_and_source() {
    use aws_sdk_dynamodb::config::http::HttpResponse;
    use aws_sdk_dynamodb::error::SdkError;
    use aws_sdk_dynamodb::operation::get_item::GetItemError;

    let cases = [
        (400, Some("ThrottlingException"), ErrorKind::Throttled),
        (
            400,
            Some("ProvisionedThroughputExceededException"),
            ErrorKind::Throttled,
        ),
        (400, Some("RequestLimitExceeded"), ErrorKind::Throttled),
        (400, Some("AccessDeniedException"), ErrorKind::Forbidden),
        (
            400,
            Some("UnrecognizedClientException"),
            ErrorKind::Forbidden,
        ),
        (400, Some("ExpiredTokenException"), ErrorKind::Forbidden),
        (403, None, ErrorKind::Forbidden),
        (400, Some("ResourceNotFoundException"), ErrorKind::Gone),
        (500, Some("InternalServerError"), ErrorKind::Unavailable),
        (503, None, ErrorKind::Unavailable),
        (400, Some("ValidationException"), ErrorKind::Other),
    ];
    for (status, code, kind) in cases {
        let endpoint = answering(status, code).await;
        let config = dynamodb_local::client_for(&endpoint)
            .config()
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .build();
        let store = DynamoStore::new(
            aws_sdk_dynamodb::Client::from_conf(config),
            TableNames::default(),
        );
        let err = store.load_game(&Room("lobby".into())).await.unwrap_err();
        let case = format!("{status} {code:?}: {err}");
        assert_eq!(err.kind(), kind, "{case}");
        assert_eq!(
            err.is_retryable(),
            matches!(kind, ErrorKind::Throttled | ErrorKind::Unavailable),
            "{case}"
        );
        assert_eq!(
            err.kind().needs_attention(),
            matches!(
                kind,
                ErrorKind::Forbidden | ErrorKind::Gone | ErrorKind::Other
            ),
            "{case}"
        );
        assert!(
            err.to_string().starts_with("GetItem Game lobby: "),
            "{case}"
        );
        if let Some(code) = code {
            assert!(err.to_string().contains(code), "{case}");
        }
        // The SDK's own error, whole, is the source.
        let source = std::error::Error::source(&err).expect("a source");
        let sdk = source
            .downcast_ref::<SdkError<GetItemError, HttpResponse>>()
            .unwrap_or_else(|| panic!("{case}: the source is not the SDK error: {source:?}"));
        assert_eq!(
            sdk.raw_response().map(|raw| raw.status().as_u16()),
            Some(status),
            "{case}"
        );
    }
}

/// The v0 fixtures carry no schema version, the v1 fixtures version 1; what this release
/// writes over the v0 items carries its own.
#[tokio::test]
async fn items_of_this_release_carry_their_schema_version() {
    let store = store().await;
    let v1 = conformance::items::Fixture::v1();
    for item in v1.users.iter().chain(&v1.chat).chain(&v1.games) {
        assert_eq!(items::schema_version(item), 1, "{item:?}");
    }
    let fixture = conformance::items::Fixture::v0();
    for item in fixture
        .users
        .iter()
        .chain(&fixture.chat)
        .chain(&fixture.games)
    {
        assert_eq!(items::schema_version(item), 0, "{item:?}");
    }
    fixture.put_into(&store).await;
    let rules = quiz_core::game::Rules::new(
        quiz_core::builtin::word_bank(),
        quiz_core::game::GameConfig::default(),
    );
    let room = Room("general".into());
    let updated = update_game(
        &store,
        &room,
        || panic!("the v0 game is there"),
        |game| {
            game.vote(
                &rules,
                quiz_core::game::VoteKind::GiveUp,
                "민지",
                2,
                conformance::NOW,
            )
        },
    )
    .await
    .unwrap();
    assert!(updated.changed);
    let raw = store
        .client()
        .get_item()
        .table_name(&store.table_names().game)
        .key("room", s("general"))
        .send()
        .await
        .unwrap();
    let item = raw.item().expect("the game");
    assert_eq!(items::schema_version(item), items::SCHEMA_VERSION);
    // The item reads back through the shared codec as the game that was saved.
    let (read_room, game) = items::game_from_item("Game", item).unwrap();
    assert_eq!((read_room, game), (room, updated.game));
    // And round-trips through DynamoDB JSON unchanged.
    assert_eq!(
        items::item_from_json(&items::item_to_json(item)).unwrap(),
        item.clone()
    );
}

#[tokio::test]
async fn the_harness_reports_its_endpoint_and_child_environment() {
    let local = dynamodb_local::local_dynamo().await.unwrap();
    assert!(
        local.endpoint().starts_with("http://"),
        "{}",
        local.endpoint()
    );
    let env: HashMap<&str, String> = local.env().into_iter().collect();
    assert_eq!(env["DYNAMODB_ENDPOINT"], local.endpoint());
    let tables = TableNames::with_prefix("x-");
    let table_env: HashMap<&str, String> = dynamodb_local::table_env(&tables).into_iter().collect();
    assert_eq!(table_env["GAME_TABLE"], "x-Game");
    assert_eq!(table_env["REPORT_TABLE"], "x-Report");
    // Prefixes never repeat.
    assert_ne!(
        dynamodb_local::unique_prefix(),
        dynamodb_local::unique_prefix()
    );
}

/// A TCP relay to DynamoDB Local that, once armed, lets the next request through and then
/// closes the client's connection instead of passing on the answer: the write lands and its
/// answer is lost, as when a connection drops mid-response. The SDK then retries the request.
struct LossyRelay {
    endpoint: String,
    armed: Arc<AtomicBool>,
    answers_lost: Arc<AtomicUsize>,
}

impl LossyRelay {
    async fn start(upstream: &str) -> LossyRelay {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = LossyRelay {
            endpoint: format!("http://{}", listener.local_addr().unwrap()),
            armed: Arc::new(AtomicBool::new(false)),
            answers_lost: Arc::new(AtomicUsize::new(0)),
        };
        let (armed, answers_lost) = (relay.armed.clone(), relay.answers_lost.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&upstream).await.unwrap();
                let (armed, answers_lost) = (armed.clone(), answers_lost.clone());
                tokio::spawn(async move {
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let requests = tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                    });
                    let mut buffer = vec![0u8; 64 * 1024];
                    loop {
                        let read = server_read.read(&mut buffer).await.unwrap_or(0);
                        if read == 0 {
                            break;
                        }
                        if armed.swap(false, Ordering::SeqCst) {
                            answers_lost.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        if client_write.write_all(&buffer[..read]).await.is_err() {
                            break;
                        }
                    }
                    // Dropping both halves of the client's socket closes it mid-exchange.
                    requests.abort();
                });
            }
        });
        relay
    }

    /// A store on `tables` whose requests go through this relay, retrying as the SDK's
    /// standard mode does (stated here, so the tests do not lean on a default).
    fn store(&self, tables: &TableNames) -> DynamoStore {
        let config = dynamodb_local::client_for(&self.endpoint)
            .config()
            .to_builder()
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            .build();
        DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), tables.clone())
    }

    fn lose_next_answer(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }
}

/// A store on fresh tables, a relay to the same DynamoDB Local, and a store on those tables
/// whose requests go through the relay.
async fn relayed_store() -> (DynamoStore, LossyRelay, DynamoStore) {
    let direct = store().await;
    let local = local_dynamo().await.unwrap();
    let relay = LossyRelay::start(local.endpoint()).await;
    let through_relay = relay.store(direct.table_names());
    (direct, relay, through_relay)
}

#[tokio::test]
async fn a_game_save_whose_answer_was_lost_is_not_a_conflict() {
    let (direct, relay, through_relay) = relayed_store().await;
    let rules = conformance::rules();
    let lobby = Room("lost-answer".into());

    let mut game = Game::new(&rules, 1, 7, 0);
    through_relay.save_game(&lobby, &game, None).await.unwrap();
    let before = game.version();
    let answer = game.question().to_owned();
    game.submit(&rules, "민지", &answer, 2, 1_000);
    assert_eq!(game.version(), before + 1);

    relay.lose_next_answer();
    through_relay
        .save_game(&lobby, &game, Some(before))
        .await
        .expect("the save landed on its first attempt; the retry must not call it a conflict");
    assert_eq!(relay.answers_lost.load(Ordering::SeqCst), 1);
    let stored = direct.load_game(&lobby).await.unwrap().unwrap();
    assert_eq!(stored.version(), game.version());

    // Another writer that computed from the same version still loses the race.
    let mut rival = Game::new(&rules, 1, 7, 0);
    rival.submit(&rules, "지훈", &answer, 2, 2_000);
    match direct.save_game(&lobby, &rival, Some(before)).await {
        Err(StoreError::Conflict { expected, .. }) => assert_eq!(expected, Some(before)),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn a_chat_line_whose_answer_was_lost_is_stored_once() {
    let (direct, relay, through_relay) = relayed_store().await;
    let line = NewChatLine {
        room: Room("lost-chat".into()),
        username: "민지".into(),
        content: "강아지".into(),
        connection_id: ConnectionId("conn-lost".into()),
        correct: true,
        sent_at: now_millis(),
        expires_at: None,
    };

    relay.lose_next_answer();
    let stored = through_relay.append_chat(&line).await.unwrap();
    assert_eq!(relay.answers_lost.load(Ordering::SeqCst), 1);

    let lines = direct.recent_chat(&line.room, 10).await.unwrap();
    assert_eq!(lines.len(), 1, "one message, one line: {lines:?}");
    assert_eq!(lines[0].sent_at, stored.sent_at);
    assert_eq!(lines[0].content, "강아지");
}

#[tokio::test]
async fn user_rows_carry_a_theme_only_when_one_was_asked_for() {
    let store = store().await;
    let raw_row = |conn: &'static str| {
        let store = store.clone();
        async move {
            store
                .client()
                .get_item()
                .table_name(&store.table_names().user)
                .key("connectionId", s(conn))
                .send()
                .await
                .unwrap()
                .item()
                .cloned()
                .expect("the row was written")
        }
    };
    let themed = Connection::new(
        ConnectionId("themed".into()),
        Room("lobby".into()),
        None,
        conformance::NOW,
    )
    .with_theme(Some("동물".into()));
    store.put_connection(&themed).await.unwrap();
    let item = raw_row("themed").await;
    assert_eq!(item.get("theme"), Some(&s("동물")));
    assert_eq!(items::schema_version(&item), items::SCHEMA_VERSION);

    let plain = Connection::new(
        ConnectionId("plain".into()),
        Room("lobby".into()),
        None,
        conformance::NOW,
    );
    store.put_connection(&plain).await.unwrap();
    assert!(!raw_row("plain").await.contains_key("theme"));

    // A row of the release before themes (schema version 1) reads with none.
    let mut old = raw_row("themed").await;
    old.remove("theme");
    old.insert("connectionId".into(), s("old"));
    old.insert("schemaVersion".into(), AttributeValue::N("1".into()));
    put_raw(&store, &store.table_names().user, old).await;
    let read = store
        .get_connection(&ConnectionId("old".into()))
        .await
        .unwrap()
        .expect("the old row");
    assert_eq!(read.theme, None);
    assert_eq!(read.room, Room("lobby".into()));
}

#[tokio::test]
async fn report_items_have_the_documented_shape() {
    let store = store().await;
    let report = Report {
        room: Room("lobby".into()),
        username: "민지".into(),
        connection_id: ConnectionId("conn-1".into()),
        word: "강아지".into(),
        kind: ReportKind::Remove,
        reason: Some("사전에 없어요".into()),
        pattern: "ㄱㅇㅈ".into(),
        reported_at: conformance::NOW + 123,
    };
    store.save_report(&report).await.unwrap();
    store
        .save_report(&Report {
            kind: ReportKind::Add,
            reason: None,
            ..report.clone()
        })
        .await
        .unwrap();
    let raw = store
        .client()
        .query()
        .table_name(&store.table_names().report)
        .key_condition_expression("#room = :room")
        .expression_attribute_names("#room", "room")
        .expression_attribute_values(":room", s("lobby"))
        .send()
        .await
        .unwrap();
    let stored = raw.items();
    assert_eq!(
        stored.len(),
        2,
        "two reports in one millisecond: {stored:?}"
    );
    let with_reason = stored
        .iter()
        .find(|item| item.contains_key("reason"))
        .expect("the report with a reason");
    let Some(AttributeValue::S(key)) = with_reason.get("reportedAt") else {
        panic!("reportedAt must be a string: {with_reason:?}");
    };
    assert!(key.starts_with("2100-01-01T00:00:00.123Z#"), "{key}");
    let expected: HashMap<String, AttributeValue> = HashMap::from([
        ("room".into(), s("lobby")),
        ("reportedAt".into(), s(key)),
        ("username".into(), s("민지")),
        ("connectionId".into(), s("conn-1")),
        ("word".into(), s("강아지")),
        ("kind".into(), s("remove")),
        ("reason".into(), s("사전에 없어요")),
        ("pattern".into(), s("ㄱㅇㅈ")),
        (
            "reportedAtMs".into(),
            AttributeValue::N((conformance::NOW + 123).to_string()),
        ),
        ("schemaVersion".into(), AttributeValue::N("2".into())),
    ]);
    assert_eq!(with_reason, &expected);
    let without = stored
        .iter()
        .find(|item| !item.contains_key("reason"))
        .expect("the report without a reason");
    assert_eq!(without.get("kind"), Some(&s("add")));

    // A kind this release does not know is an unreadable item, named.
    let mut odd = without.clone();
    odd.insert("kind".into(), s("rename"));
    odd.insert("reportedAt".into(), s("2100-01-02T00:00:00.000Z#00000000"));
    put_raw(&store, &store.table_names().report, odd).await;
    let (table, key, reason) = corrupt_of(store.recent_reports(&Room("lobby".into()), 10).await);
    assert_eq!(table, store.table_names().report);
    assert_eq!(key, "lobby/2100-01-02T00:00:00.000Z#00000000");
    assert!(reason.contains("rename"), "{reason}");
}

/// The `User` table as the release before `room-members` created it: `room-index` only.
async fn create_previous_user_table(store: &DynamoStore) {
    let key = |name: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(key_type)
            .build()
            .unwrap()
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    let table = &store.table_names().user;
    store
        .client()
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("connectionId"))
        .attribute_definitions(attribute("room"))
        .key_schema(key("connectionId", KeyType::Hash))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(ROOM_INDEX)
                .key_schema(key("room", KeyType::Hash))
                .key_schema(key("connectionId", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::KeysOnly)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    store
        .client()
        .wait_until_table_exists()
        .table_name(table)
        .wait(std::time::Duration::from_secs(60))
        .await
        .unwrap();
}

/// A stack update adds `room-members` and does not wait for it: until it is there, the room
/// is listed on `room-index`, every connection named; once it is there, exactly.
#[tokio::test]
async fn room_members_fall_back_to_the_older_index_until_the_new_one_is_there() {
    let local = local_dynamo().await.unwrap();
    let store = DynamoStore::new(
        local.client(),
        TableNames::with_prefix(&dynamodb_local::unique_prefix()),
    );
    create_previous_user_table(&store).await;
    for (conn, name) in [("c1", None), ("c2", Some("민지")), ("c3", None)] {
        store
            .put_connection(&Connection::new(
                ConnectionId(conn.into()),
                Room("lobby".into()),
                name.map(Into::into),
                conformance::NOW,
            ))
            .await
            .unwrap();
    }
    let lobby = Room("lobby".into());
    let member = |conn: &str, named: bool| RoomMember {
        id: ConnectionId(conn.into()),
        named,
    };
    let sorted = |mut members: Vec<RoomMember>| {
        members.sort();
        members
    };

    // What the new index's Query answers now: the refusal the fallback must recognise.
    let refused = store
        .client()
        .query()
        .table_name(&store.table_names().user)
        .index_name(ROOM_MEMBERS_INDEX)
        .key_condition_expression("#room = :room")
        .expression_attribute_names("#room", "room")
        .expression_attribute_values(":room", s("lobby"))
        .send()
        .await
        .unwrap_err();
    let message = format!("{}", DisplayErrorContext(&refused));
    assert!(
        message.contains("ValidationException") && message.contains("specified index"),
        "{message}"
    );

    assert_eq!(
        sorted(store.room_members(&lobby).await.unwrap()),
        vec![member("c1", true), member("c2", true), member("c3", true)]
    );
    let mut ids = store.room_connections(&lobby).await.unwrap();
    ids.sort();
    assert_eq!(
        ids,
        ["c1", "c2", "c3"].map(|c| ConnectionId(c.into())).to_vec()
    );
    assert!(store
        .room_members(&Room("empty".into()))
        .await
        .unwrap()
        .is_empty());

    // The stack update: add the index, as CloudFormation does, and wait until it is active.
    let table = &store.table_names().user;
    store
        .client()
        .update_table()
        .table_name(table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("room")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("connectionId")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .create(
                    CreateGlobalSecondaryIndexAction::builder()
                        .index_name(ROOM_MEMBERS_INDEX)
                        .key_schema(
                            KeySchemaElement::builder()
                                .attribute_name("room")
                                .key_type(KeyType::Hash)
                                .build()
                                .unwrap(),
                        )
                        .key_schema(
                            KeySchemaElement::builder()
                                .attribute_name("connectionId")
                                .key_type(KeyType::Range)
                                .build()
                                .unwrap(),
                        )
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::Include)
                                .non_key_attributes("username")
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    for _ in 0..600 {
        let described = store
            .client()
            .describe_table()
            .table_name(table)
            .send()
            .await
            .unwrap();
        let active = described
            .table()
            .map(|t| t.global_secondary_indexes())
            .unwrap_or_default()
            .iter()
            .any(|index| {
                index.index_name() == Some(ROOM_MEMBERS_INDEX)
                    && index.index_status() == Some(&IndexStatus::Active)
            });
        if active {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        sorted(store.room_members(&lobby).await.unwrap()),
        vec![member("c1", false), member("c2", true), member("c3", false)]
    );
    // Another validation error of the same Query is not taken for an index not ready: an
    // empty room name is no key DynamoDB accepts, and the error names the new index.
    let err = store.room_members(&Room(String::new())).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Other, "{err}");
    assert!(err.to_string().contains(ROOM_MEMBERS_INDEX), "{err}");

    store
        .bind_username(&ConnectionId("c3".into()), "준호")
        .await
        .unwrap();
    assert_eq!(
        sorted(store.room_members(&lobby).await.unwrap()),
        vec![member("c1", false), member("c2", true), member("c3", true)]
    );
}

/// A missing table is not a missing index: no fallback, the error is `Gone`.
#[tokio::test]
async fn room_members_of_a_missing_table_are_gone() {
    let local = local_dynamo().await.unwrap();
    let store = DynamoStore::new(local.client(), TableNames::with_prefix("never-created-"));
    let err = store.room_members(&Room("lobby".into())).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Gone, "{err}");
    assert!(err.to_string().contains(ROOM_MEMBERS_INDEX), "{err}");
}
