//! `infra/template.yaml` and `create_tables` must build the same tables: this test reads the
//! template and holds its four tables to [`quiz_store::table_specs`], the description
//! `create_tables` is built from (and which `dynamo.rs` checks against DynamoDB Local). It also
//! checks what the function may do to them.

use std::collections::BTreeSet;

use quiz_store::{table_specs, TableNames, TableSpec};
use serde_norway::Value;

/// An index as (name, key schema as (attribute, HASH or RANGE), projection type, non-key
/// attributes).
type Index = (String, Vec<(String, String)>, String, Vec<String>);

const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// Reads the template. CloudFormation's short tags (`!Ref`, `!GetAtt`, `!Sub`) parse as tagged
/// values, which this test never needs to look into.
fn template() -> Value {
    serde_norway::from_str(TEMPLATE).expect("infra/template.yaml is valid YAML")
}

fn string_at<'a>(value: &'a Value, key: &str, context: &str) -> &'a str {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{context}: {key} should be a plain string"))
}

fn key_schema(value: &Value, context: &str) -> Vec<(String, String)> {
    value
        .get("KeySchema")
        .and_then(Value::as_sequence)
        .unwrap_or_else(|| panic!("{context}: KeySchema should be a list"))
        .iter()
        .map(|key| {
            (
                string_at(key, "AttributeName", context).to_owned(),
                string_at(key, "KeyType", context).to_owned(),
            )
        })
        .collect()
}

fn expected_keys(partition: &str, sort: Option<&str>) -> Vec<(String, String)> {
    let mut keys = vec![(partition.to_owned(), "HASH".to_owned())];
    if let Some(sort) = sort {
        keys.push((sort.to_owned(), "RANGE".to_owned()));
    }
    keys
}

fn check_table(template: &Value, logical_id: &str, spec: &TableSpec) {
    let resource = &template["Resources"][logical_id];
    assert_eq!(
        resource["Type"].as_str(),
        Some("AWS::DynamoDB::Table"),
        "{logical_id} should be a DynamoDB table"
    );
    let properties = &resource["Properties"];
    let context = logical_id;

    assert_eq!(
        string_at(properties, "BillingMode", context),
        spec.billing_mode
    );

    let attributes: BTreeSet<(String, String)> = properties["AttributeDefinitions"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{context}: AttributeDefinitions should be a list"))
        .iter()
        .map(|a| {
            (
                string_at(a, "AttributeName", context).to_owned(),
                string_at(a, "AttributeType", context).to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String)> = spec
        .attribute_definitions()
        .iter()
        .map(|a| (a.name.to_owned(), a.attribute_type.to_owned()))
        .collect();
    assert_eq!(attributes, expected, "{context}: AttributeDefinitions");

    assert_eq!(
        key_schema(properties, context),
        expected_keys(spec.partition_key.name, spec.sort_key.map(|k| k.name)),
        "{context}: KeySchema"
    );

    let indexes: Vec<Index> = match properties.get("GlobalSecondaryIndexes") {
        None => Vec::new(),
        Some(list) => list
            .as_sequence()
            .unwrap_or_else(|| panic!("{context}: GlobalSecondaryIndexes should be a list"))
            .iter()
            .map(|index| {
                (
                    string_at(index, "IndexName", context).to_owned(),
                    key_schema(index, context),
                    string_at(&index["Projection"], "ProjectionType", context).to_owned(),
                    index["Projection"]
                        .get("NonKeyAttributes")
                        .map(|names| {
                            names
                                .as_sequence()
                                .unwrap_or_else(|| {
                                    panic!("{context}: NonKeyAttributes should be a list")
                                })
                                .iter()
                                .map(|name| {
                                    name.as_str()
                                        .unwrap_or_else(|| {
                                            panic!("{context}: NonKeyAttributes holds names")
                                        })
                                        .to_owned()
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                )
            })
            .collect(),
    };
    let expected_indexes: Vec<Index> = spec
        .indexes
        .iter()
        .map(|index| {
            (
                index.name.to_owned(),
                expected_keys(index.partition_key.name, index.sort_key.map(|k| k.name)),
                index.projection_type.to_owned(),
                index
                    .non_key_attributes
                    .iter()
                    .map(|name| (*name).to_owned())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        indexes, expected_indexes,
        "{context}: GlobalSecondaryIndexes"
    );

    let ttl = properties.get("TimeToLiveSpecification").map(|ttl| {
        assert_eq!(
            ttl["Enabled"].as_bool(),
            Some(true),
            "{context}: a TimeToLiveSpecification should be enabled"
        );
        string_at(ttl, "AttributeName", context).to_owned()
    });
    assert_eq!(
        ttl.as_deref(),
        spec.ttl_attribute,
        "{context}: TimeToLiveSpecification"
    );
}

#[test]
fn template_tables_match_create_tables() {
    let template = template();
    let [user, chat, game, report] = table_specs(&TableNames::default());
    check_table(&template, "UserTable", &user);
    check_table(&template, "ChatTable", &chat);
    check_table(&template, "GameTable", &game);
    check_table(&template, "ReportTable", &report);
}

#[test]
fn template_is_a_sam_template() {
    let template = template();
    assert_eq!(
        template["AWSTemplateFormatVersion"].as_str(),
        Some("2010-09-09")
    );
    assert_eq!(
        template["Transform"].as_str(),
        Some("AWS::Serverless-2016-10-31")
    );
    assert!(template["Resources"].as_mapping().is_some());
}

#[test]
fn the_function_gets_the_table_names_by_reference() {
    // The template's short tags (`!Ref`, `!Sub`, `!GetAtt`) parse as tagged values, so the
    // table checks above work on the whole template, and the function's variables can be read.
    let template = template();
    let variables =
        &template["Resources"]["QuizFunction"]["Properties"]["Environment"]["Variables"];
    for (variable, table) in [
        ("USER_TABLE", "UserTable"),
        ("CHAT_TABLE", "ChatTable"),
        ("GAME_TABLE", "GameTable"),
        ("REPORT_TABLE", "ReportTable"),
    ] {
        let Value::Tagged(tagged) = &variables[variable] else {
            panic!(
                "{variable} should be !Ref {table}, found {:?}",
                variables[variable]
            );
        };
        assert_eq!(tagged.tag, "Ref", "{variable}");
        assert_eq!(tagged.value.as_str(), Some(table), "{variable}");
    }
}

/// A plain string, or the text under a short tag (`!Sub ${UserTable.Arn}/index/x` gives
/// `${UserTable.Arn}/index/x`, `!GetAtt ReportTable.Arn` gives `ReportTable.Arn`).
fn resource_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Tagged(tagged) => tagged
            .value
            .as_str()
            .unwrap_or_else(|| panic!("a tagged string: {value:?}"))
            .to_owned(),
        other => panic!("a policy action or resource should be a string: {other:?}"),
    }
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Sequence(items) => items.iter().map(resource_text).collect(),
        single => vec![resource_text(single)],
    }
}

/// The function's policy statements by Sid: (actions, resources).
fn statements() -> Vec<(String, Vec<String>, Vec<String>)> {
    let template = template();
    let policies = template["Resources"]["QuizFunction"]["Properties"]["Policies"]
        .as_sequence()
        .expect("the function has policies");
    policies
        .iter()
        .flat_map(|policy| {
            policy["Statement"]
                .as_sequence()
                .expect("a policy has statements")
                .clone()
        })
        .map(|statement| {
            (
                string_at(&statement, "Sid", "a statement").to_owned(),
                strings(&statement["Action"]),
                strings(&statement["Resource"]),
            )
        })
        .collect()
}

#[test]
fn the_function_may_query_both_room_indexes_and_only_put_reports() {
    let statements = statements();
    let (_, actions, resources) = statements
        .iter()
        .find(|(sid, _, _)| sid == "QuizTables")
        .expect("a QuizTables statement");
    assert!(actions.contains(&"dynamodb:Query".to_owned()));
    // room-members is what the store queries; room-index is its fallback while the new index
    // is being built, so the function needs both.
    for index in ["room-members", "room-index"] {
        let arn = format!("${{UserTable.Arn}}/index/{index}");
        assert!(
            resources.contains(&arn),
            "QuizTables should allow {arn}: {resources:?}"
        );
    }
    let on_reports: Vec<_> = statements
        .iter()
        .filter(|(_, _, resources)| resources.iter().any(|r| r.contains("ReportTable")))
        .collect();
    assert_eq!(
        on_reports.len(),
        1,
        "one statement on reports: {on_reports:?}"
    );
    let (sid, actions, resources) = on_reports[0];
    assert_ne!(sid, "QuizTables");
    assert_eq!(actions, &vec!["dynamodb:PutItem".to_owned()], "{sid}");
    assert_eq!(resources, &vec!["ReportTable.Arn".to_owned()], "{sid}");
}
