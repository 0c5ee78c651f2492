//! The three tables' keys, index and TTL, written down once.
//!
//! Two things build these tables: `infra/template.yaml` (CloudFormation, in AWS) and
//! [`crate::create_tables`] (DynamoDB Local, tests, a fresh account). [`table_specs`] is the one
//! description both are checked against: `create_tables` is built from it, a test compares the
//! template with it, and another compares what DynamoDB Local reports after `create_tables`.
//! The values are spelled as CloudFormation and the DynamoDB API spell them (`S`, `HASH`,
//! `KEYS_ONLY`), so the comparison is plain string equality.

use crate::{TableNames, ROOM_INDEX};

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

/// The `User`, `Chat` and `Game` tables, in that order, under the given names.
pub fn table_specs(names: &TableNames) -> [TableSpec; 3] {
    [
        TableSpec {
            name: names.user.clone(),
            partition_key: string_key("connectionId"),
            sort_key: None,
            indexes: vec![IndexSpec {
                name: ROOM_INDEX,
                partition_key: string_key("room"),
                sort_key: Some(string_key("connectionId")),
                // A broadcast only needs the ids, and a keys-only index is the cheapest to keep.
                projection_type: "KEYS_ONLY",
            }],
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
    ]
}
