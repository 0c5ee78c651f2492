//! The four tables' keys, indexes and TTL, written down once.
//!
//! Two things build these tables: `infra/template.yaml` (CloudFormation, in AWS) and
//! [`crate::create_tables`] (DynamoDB Local, tests, a fresh account). [`table_specs`] is the one
//! description both are checked against: `create_tables` is built from it, a test compares the
//! template with it, and another compares what DynamoDB Local reports after `create_tables`.
//! The values are spelled as CloudFormation and the DynamoDB API spell them (`S`, `HASH`,
//! `KEYS_ONLY`), so the comparison is plain string equality.
//!
//! # Why the `User` table has two indexes by room
//!
//! `room-index` (keys only) listed a room's connections until a broadcast also needed to know
//! which of them have a name. That needs `username` in the index, and CloudFormation cannot
//! change an existing index's projection: an update may only add one index or delete one, not
//! both at once. So this release adds `room-members` (the same keys, projecting `username`) and
//! keeps `room-index` declared. The store queries `room-members`, and falls back to
//! `room-index` while the new index is still being built (CloudFormation does not wait for
//! that). A later release, once every stack has `room-members` active, deletes `room-index`
//! (in its own stack update) together with the fallback.

use crate::{TableNames, ROOM_INDEX, ROOM_MEMBERS_INDEX};

/// One key attribute: its name and DynamoDB scalar type (`S`, `N` or `B`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyAttribute {
    pub name: &'static str,
    pub attribute_type: &'static str,
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSpec {
    pub name: &'static str,
    pub partition_key: KeyAttribute,
    pub sort_key: Option<KeyAttribute>,
    /// `KEYS_ONLY`, `INCLUDE` or `ALL`.
    pub projection_type: &'static str,
    /// With `INCLUDE`, the attributes the index carries beyond the keys; empty otherwise.
    pub non_key_attributes: &'static [&'static str],
}

/// A table as the store needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    pub name: String,
    pub partition_key: KeyAttribute,
    pub sort_key: Option<KeyAttribute>,
    pub indexes: Vec<IndexSpec>,
    /// The attribute DynamoDB's TTL reads (epoch seconds), if rows expire.
    pub ttl_attribute: Option<&'static str>,
    /// `PAY_PER_REQUEST`: a quiz's traffic comes in bursts, and idle rooms should cost nothing.
    pub billing_mode: &'static str,
}

impl TableSpec {
    /// Every attribute that is a key of the table or of an index, each once, sorted by name:
    /// exactly the `AttributeDefinitions` DynamoDB wants (it refuses unused ones).
    pub fn attribute_definitions(&self) -> Vec<KeyAttribute> {
        let mut attributes: Vec<KeyAttribute> = [Some(self.partition_key), self.sort_key]
            .into_iter()
            .chain(
                self.indexes
                    .iter()
                    .flat_map(|index| [Some(index.partition_key), index.sort_key]),
            )
            .flatten()
            .collect();
        attributes.sort();
        attributes.dedup();
        attributes
    }
}

const fn string_key(name: &'static str) -> KeyAttribute {
    KeyAttribute {
        name,
        attribute_type: "S",
    }
}

/// The `User`, `Chat`, `Game` and `Report` tables, in that order, under the given names.
pub fn table_specs(names: &TableNames) -> [TableSpec; 4] {
    let by_room = |name, projection_type, non_key_attributes| IndexSpec {
        name,
        partition_key: string_key("room"),
        sort_key: Some(string_key("connectionId")),
        projection_type,
        non_key_attributes,
    };
    [
        TableSpec {
            name: names.user.clone(),
            partition_key: string_key("connectionId"),
            sort_key: None,
            indexes: vec![
                // Unused but for the fallback; kept until a later release can delete it (see
                // the module's docs).
                by_room(ROOM_INDEX, "KEYS_ONLY", &[]),
                // A broadcast needs the ids and who has a name, and nothing else.
                by_room(ROOM_MEMBERS_INDEX, "INCLUDE", &["username"]),
            ],
            ttl_attribute: Some("expiresAt"),
            billing_mode: "PAY_PER_REQUEST",
        },
        TableSpec {
            name: names.chat.clone(),
            partition_key: string_key("room"),
            sort_key: Some(string_key("sentAt")),
            indexes: Vec::new(),
            ttl_attribute: Some("expiresAt"),
            billing_mode: "PAY_PER_REQUEST",
        },
        TableSpec {
            name: names.game.clone(),
            partition_key: string_key("room"),
            sort_key: None,
            indexes: Vec::new(),
            // A room's game is small and is what brings a returning room back where it was.
            ttl_attribute: None,
            billing_mode: "PAY_PER_REQUEST",
        },
        TableSpec {
            name: names.report.clone(),
            partition_key: string_key("room"),
            // Built like the Chat table's `sentAt`, so reports sort by time and two in one
            // millisecond both stay.
            sort_key: Some(string_key("reportedAt")),
            indexes: Vec::new(),
            // Operators review reports later, whenever that is.
            ttl_attribute: None,
            billing_mode: "PAY_PER_REQUEST",
        },
    ]
}
