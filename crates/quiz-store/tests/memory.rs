//! The conformance suite on [`MemoryStore`].

mod conformance;

conformance_suite!(async { quiz_store::MemoryStore::new() });

#[tokio::test]
async fn clones_share_tables() {
    use quiz_store::{Connection, ConnectionId, MemoryStore, Room, Store};
    let store = MemoryStore::new();
    let clone = store.clone();
    let connection = Connection::new(
        ConnectionId("c".into()),
        Room("r".into()),
        None,
        conformance::NOW,
    );
    clone.put_connection(&connection).await.unwrap();
    assert_eq!(
        store.get_connection(&connection.id).await.unwrap(),
        Some(connection)
    );
}
