//! [`DynamoStore::from_env`] reads the endpoint, credentials, region and table names from the
//! environment, as a Lambda or a local server would.
//!
//! This binary holds this one test on purpose: it changes the process environment, which is
//! only safe while no other thread reads it.

use aws_sdk_dynamodb::types::AttributeValue;
use quiz_store::{create_tables, Connection, ConnectionId, DynamoStore, Room, Store, TableNames};
use quiz_testkit::dynamodb_local::{local_dynamo, table_env, unique_prefix};

#[tokio::test]
async fn from_env_uses_the_endpoint_and_table_names_it_is_given() {
    let local = local_dynamo()
        .await
        .unwrap_or_else(|err| panic!("no DynamoDB Local for the tests: {err}"));
    let tables = TableNames::with_prefix(&unique_prefix());
    create_tables(&local.client(), &tables).await.unwrap();
    for (key, value) in local.env().into_iter().chain(table_env(&tables)) {
        std::env::set_var(key, value);
    }

    let store = DynamoStore::from_env().await;
    assert_eq!(store.table_names(), &tables);
    let connection = Connection::new(
        ConnectionId("conn-env".into()),
        Room("lobby".into()),
        None,
        // In the future: DynamoDB Local deletes rows whose `expiresAt` has passed.
        4_102_444_800_000,
    );
    store.put_connection(&connection).await.unwrap();

    // Read it back through the harness's own client: it landed in the named table on the
    // harness's server.
    let raw = local
        .client()
        .get_item()
        .table_name(&tables.user)
        .key("connectionId", AttributeValue::S("conn-env".into()))
        .send()
        .await
        .unwrap();
    assert!(raw.item().is_some());
}
