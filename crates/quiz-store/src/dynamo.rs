//! [`DynamoStore`]: the four tables on DynamoDB.
//!
//! Every method is one request on the common path, and every write that could lose a race says
//! so in a condition instead of reading first: a game save is conditional on the version, a
//! username binding on the name not being set, a chat line or a report on its key being new.
//! DynamoDB then decides the race atomically, and a loser learns it from
//! `ConditionalCheckFailedException`.
//!
//! Items are written attribute by attribute (so the tables stay readable in the console and
//! queryable by key), except the game state, which is one map written by `serde_dynamo` from
//! [`Game`]'s serde form; [`crate::items`] is the codec, shared with the memory store's
//! import. Everything read back is checked: an item that does not parse is
//! [`StoreError::Corrupt`] naming the table and key, never a panic.
//!
//! The SDK's errors are sorted into [`StoreError`]'s kinds (throttled, forbidden, gone,
//! unavailable, other) by their error code and HTTP status, each keeping the SDK error as its
//! source.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::query::QueryError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, Projection, ProjectionType, ReturnValue, ReturnValuesOnConditionCheckFailure,
    ScalarAttributeType, TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_dynamodb::Client;
use quiz_core::game::{Game, Millis};

use crate::items::{
    chat_from_item, chat_item, connection_from_item, connection_item, game_from_item, game_item,
    report_from_item, report_item, room_member_from_item, Item, Reader, ALLOWANCE_AT,
    REFUSED_COUNT, REFUSED_WINDOW, WRITE_ID,
};
use crate::schema::{table_specs, TableSpec};
use crate::{
    chat_key_suffix, chat_sort_key, Admission, Binding, ChatLine, Connection, ConnectionId,
    ErrorKind, ErrorSource, MessageAdmission, MessageRate, Micros, NewChatLine, RateDecision,
    Report, Room, RoomMember, Salvaged, Store, StoreError, TableNames, ROOM_INDEX,
    ROOM_MEMBERS_INDEX,
};

/// Conditional writes [`Store::admit_message`] tries when other instances move the allowance
/// under it.
const ADMIT_ATTEMPTS: usize = 4;

/// The environment variable that points the store at another endpoint, such as DynamoDB Local
/// (`http://localhost:8000`).
pub const ENDPOINT_ENV: &str = "DYNAMODB_ENDPOINT";

/// How many fresh suffixes [`Store::append_chat`] and [`Store::save_report`] try when a key is
/// already taken. One collision of 32 random bits within a millisecond is already unlikely;
/// four in a row means something else is wrong.
const CHAT_KEY_ATTEMPTS: usize = 4;

/// What DynamoDB's `ValidationException` says when a Query names an index that does not exist
/// yet, or one still being built (lowercase). Other validation errors share the code, so only
/// these messages mean "not ready yet".
const INDEX_NOT_READY_MESSAGES: &[&str] = &[
    "does not have the specified index",
    "backfilling global secondary index",
];

/// How long [`create_tables`] waits for a new table to become active (seconds on DynamoDB Local,
/// usually well under a minute on AWS).
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(300);

/// The store on DynamoDB. Cloning is cheap and clones share the client's connection pool.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    tables: TableNames,
}

impl DynamoStore {
    /// A store configured from the environment: credentials and region from the usual AWS
    /// chain (in Lambda, the function's role), the endpoint from [`ENDPOINT_ENV`] when it is
    /// set, and table names from [`TableNames::from_env`].
    ///
    /// With an endpoint override and no configured region, the region defaults to `us-east-1`:
    /// DynamoDB Local accepts any region, but the SDK refuses to sign a request without one.
    /// DynamoDB Local also needs some credentials, any will do (`AWS_ACCESS_KEY_ID=local`,
    /// `AWS_SECRET_ACCESS_KEY=local`).
    pub async fn from_env() -> Self {
        let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        DynamoStore::from_shared_config(&shared)
    }

    /// Like [`DynamoStore::from_env`], over an AWS configuration the caller already loaded, so
    /// a process that also builds other clients reads its environment and credentials once.
    pub fn from_shared_config(shared: &aws_config::SdkConfig) -> Self {
        let endpoint = std::env::var(ENDPOINT_ENV)
            .ok()
            .filter(|endpoint| !endpoint.trim().is_empty());
        let mut config = aws_sdk_dynamodb::config::Builder::from(shared);
        if let Some(endpoint) = endpoint {
            config = config.endpoint_url(endpoint.trim());
            if shared.region().is_none() {
                config = config.region(aws_sdk_dynamodb::config::Region::from_static("us-east-1"));
            }
        }
        DynamoStore::new(Client::from_conf(config.build()), TableNames::from_env())
    }

    /// A store using `client` and the tables named by `tables`.
    pub fn new(client: Client, tables: TableNames) -> Self {
        DynamoStore { client, tables }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table_names(&self) -> &TableNames {
        &self.tables
    }

    /// Creates this store's tables if they do not exist; see [`create_tables`].
    pub async fn create_tables(&self) -> Result<(), StoreError> {
        create_tables(&self.client, &self.tables).await
    }

    /// Writes the game item if the stored one is as `condition` says; a refusal is
    /// [`StoreError::Conflict`], unless the item there is this very write (see below).
    async fn put_game(
        &self,
        room: &Room,
        game: &Game,
        condition: GameCondition<'_>,
    ) -> Result<(), StoreError> {
        let table = &self.tables.game;
        // Tells this save apart from any other when its condition fails; see below.
        let write_id = uuid::Uuid::new_v4().simple().to_string();
        let item = game_item(room, game, &write_id, now_millis())?;
        let request = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let (request, expected) = match condition {
            GameCondition::Version(expected) => (
                request
                    .condition_expression("#version = :expected")
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_values(":expected", n(expected)),
                Some(expected),
            ),
            GameCondition::Absent => (
                request
                    .condition_expression("attribute_not_exists(#room)")
                    .expression_attribute_names("#room", "room"),
                None,
            ),
            GameCondition::Unreadable(Salvaged {
                version: Some(version),
                ..
            }) => (
                request
                    .condition_expression("#version = :expected")
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_values(":expected", n(*version)),
                Some(*version),
            ),
            // The item had no version number: it still has none.
            GameCondition::Unreadable(Salvaged { version: None, .. }) => (
                request
                    .condition_expression(
                        "attribute_exists(#room) AND (attribute_not_exists(#version) \
                         OR NOT attribute_type(#version, :number))",
                    )
                    .expression_attribute_names("#room", "room")
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_values(":number", s("N")),
                None,
            ),
        };
        match request.send().await {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                // The SDK retries a request whose answer it lost. If the first attempt was
                // written, the retry finds its own write there and fails the condition: that
                // is this save succeeding, not another writer winning the race.
                Some(PutItemError::ConditionalCheckFailedException(refused))
                    if refused
                        .item()
                        .is_some_and(|there| there.get(WRITE_ID) == Some(&s(&write_id))) =>
                {
                    Ok(())
                }
                Some(PutItemError::ConditionalCheckFailedException(_)) => {
                    Err(StoreError::Conflict {
                        room: room.to_string(),
                        expected,
                    })
                }
                _ => Err(sdk_error(format!("PutItem {table} {room}"), err)),
            },
        }
    }

    /// A room's entries in one of the `User` table's indexes by room, a page at a time.
    async fn query_room_index(
        &self,
        index: &str,
        room: &Room,
    ) -> Result<Vec<RoomMember>, RoomQueryError> {
        let table = &self.tables.user;
        let entries = format!("{table} ({index})");
        let mut members = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(table)
                .index_name(index)
                .key_condition_expression("#room = :room")
                .expression_attribute_names("#room", "room")
                .expression_attribute_values(":room", s(&room.0))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|err| RoomQueryError::Sdk(Box::new(err)))?;
            for item in output.items() {
                members.push(room_member_from_item(&entries, item).map_err(RoomQueryError::Store)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(members);
            }
        }
    }

    /// A room's newest `limit` items of a table keyed by room and time (chat lines, reports),
    /// oldest first. One page holds `limit` items unless they exceed DynamoDB's 1 MB page;
    /// only then is a second request made.
    async fn newest_in_room<T>(
        &self,
        table: &str,
        room: &Room,
        limit: usize,
        parse: impl Fn(&Item) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        while found.len() < limit {
            let wanted = i32::try_from(limit - found.len()).unwrap_or(i32::MAX);
            let output = self
                .client
                .query()
                .table_name(table)
                .key_condition_expression("#room = :room")
                .expression_attribute_names("#room", "room")
                .expression_attribute_values(":room", s(&room.0))
                .scan_index_forward(false)
                .limit(wanted)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|err| sdk_error(format!("Query {table} {room}"), err))?;
            for item in output.items() {
                found.push(parse(item)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        found.truncate(limit);
        found.reverse();
        Ok(found)
    }
}

/// Creates the `User`, `Chat`, `Game` and `Report` tables as [`table_specs`] describes them
/// (the same keys, indexes, TTL and billing as `infra/template.yaml`), waits until they are
/// active, and enables TTL where the spec has it.
///
/// Idempotent: a table that already exists is left as it is (its schema is not checked), and
/// TTL already enabled on the right attribute is fine. Meant for DynamoDB Local, tests and
/// first runs; in AWS the CloudFormation template owns the tables.
pub async fn create_tables(client: &Client, tables: &TableNames) -> Result<(), StoreError> {
    let specs = table_specs(tables);
    // Create all of them before waiting for any, so AWS builds them in parallel.
    for spec in &specs {
        create_table(client, spec).await?;
    }
    for spec in &specs {
        client
            .wait_until_table_exists()
            .table_name(&spec.name)
            .wait(TABLE_ACTIVE_TIMEOUT)
            .await
            .map_err(|err| StoreError::Unavailable {
                operation: format!(
                    "table {} did not become active within {TABLE_ACTIVE_TIMEOUT:?}",
                    spec.name
                ),
                source: Some(Arc::new(err)),
            })?;
        if let Some(attribute) = spec.ttl_attribute {
            enable_ttl(client, &spec.name, attribute).await?;
        }
    }
    Ok(())
}

async fn create_table(client: &Client, spec: &TableSpec) -> Result<(), StoreError> {
    let built = |err: BuildError| StoreError::Other {
        operation: format!("cannot build the CreateTable request for {}", spec.name),
        source: Some(Arc::new(err)),
    };
    let key_schema = |partition: &str, sort: Option<&str>| {
        [
            Some((partition, KeyType::Hash)),
            sort.map(|s| (s, KeyType::Range)),
        ]
        .into_iter()
        .flatten()
        .map(|(name, key_type)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
    };
    let attributes = spec
        .attribute_definitions()
        .into_iter()
        .map(|attribute| {
            AttributeDefinition::builder()
                .attribute_name(attribute.name)
                .attribute_type(ScalarAttributeType::from(attribute.attribute_type))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(built)?;
    let indexes = spec
        .indexes
        .iter()
        .map(|index| {
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .set_key_schema(Some(key_schema(
                    index.partition_key.name,
                    index.sort_key.map(|key| key.name),
                )?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(index.projection_type))
                        .set_non_key_attributes((!index.non_key_attributes.is_empty()).then(|| {
                            index
                                .non_key_attributes
                                .iter()
                                .map(|name| (*name).to_owned())
                                .collect()
                        }))
                        .build(),
                )
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(built)?;
    let result = client
        .create_table()
        .table_name(&spec.name)
        .billing_mode(BillingMode::from(spec.billing_mode))
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(
            key_schema(spec.partition_key.name, spec.sort_key.map(|key| key.name))
                .map_err(built)?,
        ))
        .set_global_secondary_indexes((!indexes.is_empty()).then_some(indexes))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(err) => Err(sdk_error(format!("CreateTable {}", spec.name), err)),
    }
}

async fn enable_ttl(client: &Client, table: &str, attribute: &str) -> Result<(), StoreError> {
    let described = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|err| sdk_error(format!("DescribeTimeToLive {table}"), err))?;
    if let Some(current) = described.time_to_live_description() {
        let status = current.time_to_live_status();
        let on = matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        );
        match current.attribute_name() {
            Some(name) if on && name == attribute => return Ok(()),
            Some(name) if on => {
                return Err(StoreError::Other {
                    operation: format!(
                        "table {table} expires rows by {name:?}, but the store writes \
                         {attribute:?}; disable TTL on the table or recreate it"
                    ),
                    source: None,
                })
            }
            _ => {}
        }
    }
    let spec = TimeToLiveSpecification::builder()
        .attribute_name(attribute)
        .enabled(true)
        .build()
        .map_err(|err| StoreError::Other {
            operation: format!("cannot build the TTL request for {table}"),
            source: Some(Arc::new(err)),
        })?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(spec)
        .send()
        .await
        .map_err(|err| sdk_error(format!("UpdateTimeToLive {table}"), err))?;
    Ok(())
}

/// Error codes of throttling: the account or table is over a limit for now.
const THROTTLED_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "TooManyRequestsException",
];

/// Error codes of refused credentials or permissions.
const FORBIDDEN_CODES: &[&str] = &[
    "AccessDeniedException",
    "AccessDenied",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "IncompleteSignatureException",
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "NotAuthorized",
];

/// Error codes of a missing table (or index).
const GONE_CODES: &[&str] = &["ResourceNotFoundException", "TableNotFoundException"];

/// Error codes that mean "not now" without being throttling.
const UNAVAILABLE_CODES: &[&str] = &[
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "ReplicatedWriteConflictException",
    "TransactionConflictException",
];

/// Sorts an SDK error into a [`StoreError`] kind by its error code, else its HTTP status:
/// throttled (429 and throttling codes), forbidden (403 and credential codes, which DynamoDB
/// answers with 400), gone (a missing table), unavailable (timeouts, no connection, 5xx), or
/// other (a bad request: someone has to fix something). The SDK error is kept as the source;
/// its chain is where the SDK puts the useful part ("connection refused", the service's own
/// message).
fn sdk_error<E>(operation: String, err: SdkError<E, HttpResponse>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let in_codes = |codes: &[&str], code: Option<&str>| code.is_some_and(|c| codes.contains(&c));
    let by_status = |status: u16| match status {
        429 => ErrorKind::Throttled,
        401 | 403 => ErrorKind::Forbidden,
        500..=599 => ErrorKind::Unavailable,
        _ => ErrorKind::Other,
    };
    let kind = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => ErrorKind::Unavailable,
        SdkError::ResponseError(context) => by_status(context.raw().status().as_u16()),
        SdkError::ServiceError(context) => {
            let code = context.err().code();
            if in_codes(THROTTLED_CODES, code) {
                ErrorKind::Throttled
            } else if in_codes(FORBIDDEN_CODES, code) {
                ErrorKind::Forbidden
            } else if in_codes(GONE_CODES, code) {
                ErrorKind::Gone
            } else if in_codes(UNAVAILABLE_CODES, code) {
                ErrorKind::Unavailable
            } else {
                by_status(context.raw().status().as_u16())
            }
        }
        _ => ErrorKind::Other,
    };
    let source: Option<ErrorSource> = Some(Arc::new(err));
    match kind {
        ErrorKind::Throttled => StoreError::Throttled { operation, source },
        ErrorKind::Forbidden => StoreError::Forbidden { operation, source },
        ErrorKind::Gone => StoreError::Gone { operation, source },
        ErrorKind::Unavailable => StoreError::Unavailable { operation, source },
        _ => StoreError::Other { operation, source },
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Why listing a room on an index failed: the request (which may be an index not ready yet),
/// or an entry that does not parse.
enum RoomQueryError {
    Sdk(Box<SdkError<QueryError, HttpResponse>>),
    Store(StoreError),
}

impl RoomQueryError {
    fn into_store_error(self, operation: String) -> StoreError {
        match self {
            RoomQueryError::Sdk(err) => sdk_error(operation, *err),
            RoomQueryError::Store(err) => err,
        }
    }
}

/// Whether a Query was refused because its index does not exist yet or is still being built:
/// a `ValidationException` with one of [`INDEX_NOT_READY_MESSAGES`]. Any other refusal (a
/// missing table, throttling, another validation error) is not this.
fn is_index_not_ready(err: &SdkError<QueryError, HttpResponse>) -> bool {
    let Some(refused) = err.as_service_error() else {
        return false;
    };
    refused.code() == Some("ValidationException")
        && refused.message().is_some_and(|message| {
            let message = message.to_ascii_lowercase();
            INDEX_NOT_READY_MESSAGES
                .iter()
                .any(|known| message.contains(known))
        })
}

fn is_condition_failure(err: &SdkError<UpdateItemError, HttpResponse>) -> bool {
    matches!(
        err.as_service_error(),
        Some(UpdateItemError::ConditionalCheckFailedException(_))
    )
}

/// Whether the Chat item `there` holds `line`: same sender, name and text under the same key
/// (whose random suffix no other writer picks in practice).
fn is_same_chat(there: &Item, line: &ChatLine) -> bool {
    there.get("connectionId") == Some(&s(&line.connection_id.0))
        && there.get("username") == Some(&s(&line.username))
        && there.get("content") == Some(&s(&line.content))
}

/// What a game save is conditional on.
enum GameCondition<'a> {
    /// No item for the room yet.
    Absent,
    /// The item's version is this one.
    Version(u64),
    /// The item is still the unreadable one this was salvaged from.
    Unreadable(&'a Salvaged),
}

impl Store for DynamoStore {
    async fn put_connection(&self, connection: &Connection) -> Result<(), StoreError> {
        let table = &self.tables.user;
        self.client
            .put_item()
            .table_name(table)
            .set_item(Some(connection_item(connection)))
            .send()
            .await
            .map_err(|err| sdk_error(format!("PutItem {table} {}", connection.id), err))?;
        Ok(())
    }

    async fn get_connection(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError> {
        let table = &self.tables.user;
        let output = self
            .client
            .get_item()
            .table_name(table)
            .key("connectionId", s(&id.0))
            // A message can follow its `$connect` within milliseconds.
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| sdk_error(format!("GetItem {table} {id}"), err))?;
        output
            .item()
            .map(|item| connection_from_item(table, item))
            .transpose()
    }

    async fn bind_username(
        &self,
        id: &ConnectionId,
        username: &str,
    ) -> Result<Binding, StoreError> {
        let table = &self.tables.user;
        // One request decides it: the condition refuses a missing row and a different name,
        // and on refusal DynamoDB hands back the row as it was, which tells the two apart.
        let result = self
            .client
            .update_item()
            .table_name(table)
            .key("connectionId", s(&id.0))
            .update_expression("SET #username = :username")
            .condition_expression(
                "attribute_exists(#id) AND (attribute_not_exists(#username) OR #username = :username)",
            )
            .expression_attribute_names("#id", "connectionId")
            .expression_attribute_names("#username", "username")
            .expression_attribute_values(":username", s(username))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => match output.attributes() {
                Some(item) => Ok(Binding::Bound(connection_from_item(table, item)?)),
                None => Err(StoreError::Other {
                    operation: format!(
                        "UpdateItem {table} {id} succeeded but returned no attributes"
                    ),
                    source: None,
                }),
            },
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(refused)) => {
                    match refused.item() {
                        None => Err(StoreError::NotFound {
                            table: table.clone(),
                            key: id.to_string(),
                        }),
                        Some(item) => match connection_from_item(table, item)?.username {
                            Some(bound) => Ok(Binding::Taken(bound)),
                            // The row had no name, so the condition held; only a row that
                            // changed under the request gets here. Asking again decides it.
                            None => Err(StoreError::Unavailable {
                                operation: format!(
                                    "the row of connection {id} in {table} changed while \
                                     binding its username"
                                ),
                                source: None,
                            }),
                        },
                    }
                }
                _ => Err(sdk_error(format!("UpdateItem {table} {id}"), err)),
            },
        }
    }

    async fn admit_message(
        &self,
        id: &ConnectionId,
        now: Micros,
        rate: MessageRate,
    ) -> Result<MessageAdmission, StoreError> {
        let table = &self.tables.user;
        // The common case in one write: a full bucket (the allowance in the past) moves to
        // one interval from now. Otherwise DynamoDB hands back the row, and the allowance it
        // holds decides: refused, or moved one interval on, conditional on nobody having
        // moved it meanwhile.
        let mut condition = "#at <= :now".to_owned();
        let mut next = now.saturating_add(rate.interval_us);
        let mut expected: Option<Micros> = None;
        for _ in 0..ADMIT_ATTEMPTS {
            let mut request = self
                .client
                .update_item()
                .table_name(table)
                .key("connectionId", s(&id.0))
                .update_expression("SET #at = :next")
                // The row comes back either way, so a message needs no read of its own.
                .return_values(ReturnValue::AllNew)
                .expression_attribute_names("#id", "connectionId")
                .expression_attribute_names("#at", ALLOWANCE_AT)
                .expression_attribute_values(":next", n(next))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            request = match expected {
                None => request
                    .condition_expression(format!(
                        "attribute_exists(#id) AND (attribute_not_exists(#at) OR {condition})"
                    ))
                    .expression_attribute_values(":now", n(now)),
                Some(old) => request
                    .condition_expression(format!("attribute_exists(#id) AND {condition}"))
                    .expression_attribute_values(":old", n(old)),
            };
            let refused = match request.send().await {
                Ok(output) => {
                    let Some(item) = output.attributes() else {
                        return Err(StoreError::Other {
                            operation: format!("UpdateItem {table} {id} returned no attributes"),
                            source: None,
                        });
                    };
                    return Ok(MessageAdmission {
                        decision: Admission::Admitted,
                        connection: connection_from_item(table, item)?,
                    });
                }
                Err(err) => match err.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(refused)) => {
                        refused.item().cloned()
                    }
                    _ => return Err(sdk_error(format!("UpdateItem {table} {id}"), err)),
                },
            };
            let Some(item) = refused else {
                return Err(StoreError::NotFound {
                    table: table.clone(),
                    key: id.to_string(),
                });
            };
            let stored = Reader::new(&item, table, id.to_string()).optional_number(ALLOWANCE_AT)?;
            match rate.decide(stored, now) {
                RateDecision::Refuse { retry_after_us } => {
                    return Ok(MessageAdmission {
                        decision: Admission::Refused { retry_after_us },
                        connection: connection_from_item(table, &item)?,
                    })
                }
                RateDecision::Admit { allowance_at } => {
                    next = allowance_at;
                    expected = stored;
                    condition = match stored {
                        Some(_) => "#at = :old".to_owned(),
                        // Another writer removed it; start over from a full bucket.
                        None => "#at <= :now".to_owned(),
                    };
                }
            }
        }
        Err(StoreError::Unavailable {
            operation: format!(
                "the message allowance of connection {id} in {table} kept changing under \
                 {ADMIT_ATTEMPTS} attempts"
            ),
            source: None,
        })
    }

    async fn count_refusal(&self, id: &ConnectionId, window: u64) -> Result<u32, StoreError> {
        let table = &self.tables.user;
        let mut window = window;
        for _ in 0..ADMIT_ATTEMPTS {
            // Same window: one more. Otherwise: a new window with one.
            let same = self
                .client
                .update_item()
                .table_name(table)
                .key("connectionId", s(&id.0))
                .update_expression("SET #count = #count + :one")
                .condition_expression("attribute_exists(#id) AND #window = :window")
                .expression_attribute_names("#id", "connectionId")
                .expression_attribute_names("#window", REFUSED_WINDOW)
                .expression_attribute_names("#count", REFUSED_COUNT)
                .expression_attribute_values(":window", n(window))
                .expression_attribute_values(":one", n(1))
                .return_values(ReturnValue::UpdatedNew)
                .send()
                .await;
            match same {
                Ok(output) => {
                    let item = output.attributes().cloned().unwrap_or_default();
                    return Reader::new(&item, table, id.to_string()).number(REFUSED_COUNT);
                }
                Err(err) if !is_condition_failure(&err) => {
                    return Err(sdk_error(format!("UpdateItem {table} {id}"), err))
                }
                Err(_) => {}
            }
            let fresh = self
                .client
                .update_item()
                .table_name(table)
                .key("connectionId", s(&id.0))
                .update_expression("SET #window = :window, #count = :one")
                // Only forward: a frame stamped in an older window cannot reset the count.
                .condition_expression(
                    "attribute_exists(#id) AND (attribute_not_exists(#window) OR #window < :window)",
                )
                .expression_attribute_names("#id", "connectionId")
                .expression_attribute_names("#window", REFUSED_WINDOW)
                .expression_attribute_names("#count", REFUSED_COUNT)
                .expression_attribute_values(":window", n(window))
                .expression_attribute_values(":one", n(1))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            match fresh {
                Ok(_) => return Ok(1),
                Err(err) => match err.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(refused))
                        if refused.item().is_none() =>
                    {
                        return Err(StoreError::NotFound {
                            table: table.clone(),
                            key: id.to_string(),
                        })
                    }
                    // Another instance opened this window first, or a newer one is open:
                    // count in that.
                    Some(UpdateItemError::ConditionalCheckFailedException(refused)) => {
                        let item = refused.item().cloned().unwrap_or_default();
                        let stored: Option<u64> = Reader::new(&item, table, id.to_string())
                            .optional_number(REFUSED_WINDOW)?;
                        window = window.max(stored.unwrap_or(window));
                    }
                    _ => return Err(sdk_error(format!("UpdateItem {table} {id}"), err)),
                },
            }
        }
        Err(StoreError::Unavailable {
            operation: format!("the refusal count of connection {id} in {table} kept changing"),
            source: None,
        })
    }

    async fn remove_connection(&self, id: &ConnectionId) -> Result<(), StoreError> {
        let table = &self.tables.user;
        self.client
            .delete_item()
            .table_name(table)
            .key("connectionId", s(&id.0))
            .send()
            .await
            .map_err(|err| sdk_error(format!("DeleteItem {table} {id}"), err))?;
        Ok(())
    }

    async fn prune_connection(
        &self,
        id: &ConnectionId,
        connected_before: Millis,
    ) -> Result<bool, StoreError> {
        let table = &self.tables.user;
        let result = self
            .client
            .delete_item()
            .table_name(table)
            .key("connectionId", s(&id.0))
            .condition_expression("#connectedAt < :cutoff")
            .expression_attribute_names("#connectedAt", "connectedAt")
            .expression_attribute_values(":cutoff", n(connected_before))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            // Too young to prune, or already gone.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(sdk_error(format!("DeleteItem {table} {id}"), err)),
        }
    }

    async fn room_connections(&self, room: &Room) -> Result<Vec<ConnectionId>, StoreError> {
        let members = self.room_members(room).await?;
        Ok(members.into_iter().map(|member| member.id).collect())
    }

    async fn room_members(&self, room: &Room) -> Result<Vec<RoomMember>, StoreError> {
        let table = &self.tables.user;
        let operation = |index: &str| format!("Query {table} {index} {room}");
        match self.query_room_index(ROOM_MEMBERS_INDEX, room).await {
            Ok(members) => Ok(members),
            // A stack update adds the index and goes on without waiting for it: until it is
            // active, the older index lists the room, and every connection may vote, as the
            // release before this one had it.
            Err(RoomQueryError::Sdk(err)) if is_index_not_ready(&err) => {
                let refused = sdk_error(operation(ROOM_MEMBERS_INDEX), *err);
                tracing::warn!(
                    table = table.as_str(),
                    index = ROOM_MEMBERS_INDEX,
                    fallback = ROOM_INDEX,
                    error = %refused,
                    "index not ready: listing the room on the older index, every connection named"
                );
                let members = self
                    .query_room_index(ROOM_INDEX, room)
                    .await
                    .map_err(|err| err.into_store_error(operation(ROOM_INDEX)))?;
                Ok(members
                    .into_iter()
                    .map(|member| RoomMember {
                        named: true,
                        ..member
                    })
                    .collect())
            }
            Err(err) => Err(err.into_store_error(operation(ROOM_MEMBERS_INDEX))),
        }
    }

    async fn append_chat(&self, line: &NewChatLine) -> Result<ChatLine, StoreError> {
        let table = &self.tables.chat;
        for _ in 0..CHAT_KEY_ATTEMPTS {
            let stored = ChatLine {
                room: line.room.clone(),
                sent_at: chat_sort_key(line.sent_at, &chat_key_suffix()),
                username: line.username.clone(),
                content: line.content.clone(),
                connection_id: line.connection_id.clone(),
                correct: line.correct,
                expires_at: line.expires_at,
            };
            let result = self
                .client
                .put_item()
                .table_name(table)
                .set_item(Some(chat_item(&stored)))
                .condition_expression("attribute_not_exists(#sentAt)")
                .expression_attribute_names("#sentAt", "sentAt")
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            match result {
                Ok(_) => return Ok(stored),
                Err(err) => match err.as_service_error() {
                    // The key is taken. The SDK retries a request whose answer it lost, so the
                    // line there may be this very line, written by the first attempt: then it
                    // is stored, and writing it again under a new key would duplicate it.
                    Some(PutItemError::ConditionalCheckFailedException(refused)) => {
                        if refused
                            .item()
                            .is_some_and(|there| is_same_chat(there, &stored))
                        {
                            return Ok(stored);
                        }
                        continue;
                    }
                    _ => {
                        return Err(sdk_error(
                            format!("PutItem {table} {}/{}", stored.room, stored.sent_at),
                            err,
                        ))
                    }
                },
            }
        }
        Err(StoreError::Other {
            operation: format!(
                "PutItem {table} {}: {CHAT_KEY_ATTEMPTS} random chat keys in a row were taken",
                line.room
            ),
            source: None,
        })
    }

    async fn set_chat_correct(&self, line: &ChatLine, correct: bool) -> Result<(), StoreError> {
        let table = &self.tables.chat;
        let result = self
            .client
            .update_item()
            .table_name(table)
            .key("room", s(&line.room.0))
            .key("sentAt", s(&line.sent_at))
            .update_expression("SET #correct = :correct")
            .condition_expression("attribute_exists(#sentAt)")
            .expression_attribute_names("#correct", "correct")
            .expression_attribute_names("#sentAt", "sentAt")
            .expression_attribute_values(":correct", AttributeValue::Bool(correct))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_condition_failure(&err) => Err(StoreError::NotFound {
                table: table.clone(),
                key: format!("{}/{}", line.room, line.sent_at),
            }),
            Err(err) => Err(sdk_error(
                format!("UpdateItem {table} {}/{}", line.room, line.sent_at),
                err,
            )),
        }
    }

    async fn recent_chat(&self, room: &Room, limit: usize) -> Result<Vec<ChatLine>, StoreError> {
        let table = &self.tables.chat;
        self.newest_in_room(table, room, limit, |item| chat_from_item(table, item))
            .await
    }

    async fn save_report(&self, report: &Report) -> Result<(), StoreError> {
        let table = &self.tables.report;
        for _ in 0..CHAT_KEY_ATTEMPTS {
            let key = chat_sort_key(report.reported_at, &chat_key_suffix());
            let item = report_item(report, &key);
            let result = self
                .client
                .put_item()
                .table_name(table)
                .set_item(Some(item.clone()))
                .condition_expression("attribute_not_exists(#reportedAt)")
                .expression_attribute_names("#reportedAt", "reportedAt")
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            match result {
                Ok(_) => return Ok(()),
                Err(err) => match err.as_service_error() {
                    // The key is taken: by this very report when the SDK retried a request
                    // whose answer it lost (then it is stored), else by another report.
                    Some(PutItemError::ConditionalCheckFailedException(refused)) => {
                        if refused.item() == Some(&item) {
                            return Ok(());
                        }
                    }
                    _ => {
                        return Err(sdk_error(
                            format!("PutItem {table} {}/{key}", report.room),
                            err,
                        ))
                    }
                },
            }
        }
        Err(StoreError::Other {
            operation: format!(
                "PutItem {table} {}: {CHAT_KEY_ATTEMPTS} random report keys in a row were taken",
                report.room
            ),
            source: None,
        })
    }

    async fn recent_reports(&self, room: &Room, limit: usize) -> Result<Vec<Report>, StoreError> {
        let table = &self.tables.report;
        self.newest_in_room(table, room, limit, |item| {
            report_from_item(table, item).map(|(_, report)| report)
        })
        .await
    }

    async fn load_game(&self, room: &Room) -> Result<Option<Game>, StoreError> {
        let table = &self.tables.game;
        let output = self
            .client
            .get_item()
            .table_name(table)
            .key("room", s(&room.0))
            // A stale read would only cost a conflict and a retry, but a strong read avoids it.
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| sdk_error(format!("GetItem {table} {room}"), err))?;
        output
            .item()
            .map(|item| game_from_item(table, item).map(|(_, game)| game))
            .transpose()
    }

    async fn save_game(
        &self,
        room: &Room,
        game: &Game,
        expected_version: Option<u64>,
    ) -> Result<(), StoreError> {
        let condition = match expected_version {
            Some(version) => GameCondition::Version(version),
            None => GameCondition::Absent,
        };
        self.put_game(room, game, condition).await
    }

    async fn replace_unreadable_game(
        &self,
        room: &Room,
        game: &Game,
        salvaged: &Salvaged,
    ) -> Result<(), StoreError> {
        self.put_game(room, game, GameCondition::Unreadable(salvaged))
            .await
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::ErrorMetadata;

    use super::*;

    /// A Query refused as DynamoDB refuses it: a 400 with `code` and `message`.
    fn refused(code: &str, message: &str) -> SdkError<QueryError, HttpResponse> {
        let err = QueryError::generic(ErrorMetadata::builder().code(code).message(message).build());
        let status = 400u16.try_into().expect("a status code");
        SdkError::service_error(err, HttpResponse::new(status, "".into()))
    }

    /// The index missing (DynamoDB Local answers this; the tests against it check it) and the
    /// index backfilling (only AWS answers this) are "not ready"; nothing else is.
    #[test]
    fn only_an_index_missing_or_backfilling_is_not_ready() {
        let not_ready = [
            "The table does not have the specified index: room-members",
            "Cannot read from backfilling global secondary index: room-members",
            "Cannot read from backfilling global secondary index",
        ];
        for message in not_ready {
            assert!(
                is_index_not_ready(&refused("ValidationException", message)),
                "{message}"
            );
        }
        let other = [
            (
                "ValidationException",
                "One or more parameter values are not valid.",
            ),
            (
                "ValidationException",
                "Query condition missed key schema element: room",
            ),
            ("ResourceNotFoundException", "Requested resource not found"),
            (
                "ThrottlingException",
                "The table does not have the specified index",
            ),
        ];
        for (code, message) in other {
            assert!(
                !is_index_not_ready(&refused(code, message)),
                "{code}: {message}"
            );
        }
    }
}
