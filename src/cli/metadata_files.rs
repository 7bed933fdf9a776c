//! The Baton metadata files: `capabilities` (protojson of an `Any` wrapping
//! `ConnectorCapabilities`, committed as `baton_capabilities.json`) and `config` (the
//! configuration schema, committed as `config_schema.json`). Both are derived from the code, so
//! the committed copies can be checked for drift.

use clap::{ArgAction, Args, Command};
use serde_json::{Value, json};

use super::PoolArgs;
use crate::connector::metadata;
use crate::pb::{pack, to_protojson};

/// `baton_capabilities.json`.
pub fn capabilities_json() -> Result<String, crate::pb::UnprintableRecord> {
    let json = to_protojson(&pack(&metadata::capabilities()))?;
    Ok(pretty(&json))
}

/// Human names for the configuration fields, shown by the platform's setup form.
const DISPLAY_NAMES: &[(&str, &str)] = &[
    ("user-pool-id", "User pool ID or ARN"),
    ("region", "AWS region"),
    ("aws-access-key-id", "AWS access key ID"),
    ("aws-secret-access-key", "AWS secret access key"),
    ("aws-session-token", "AWS session token"),
    ("role-arn", "IAM role ARN to assume"),
    ("external-id", "External ID"),
    ("endpoint-url", "Cognito endpoint URL"),
    ("user-filter", "User filter"),
    ("api-budget", "API budget (share of Cognito quotas)"),
    ("category-budget", "API budget per quota category"),
];

const SECRET_FIELDS: &[&str] = &["aws-secret-access-key", "aws-session-token", "external-id"];

/// `config_schema.json`: the connector's own fields in the shape Baton's Go SDK exports its
/// `field.Configuration` (Go field names, relationships by kind number).
pub fn config_schema_json() -> String {
    let command = PoolArgs::augment_args(Command::new("baton-cognito"));
    let fields: Vec<Value> = command
        .get_arguments()
        .filter(|arg| !arg.is_hide_set())
        .filter_map(|arg| {
            let name = arg.get_long()?;
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            let required = name == "user-pool-id";
            let default = arg
                .get_default_values()
                .first()
                .map(|v| v.to_string_lossy().into_owned())
                .unwrap_or_default();
            let variant = match arg.get_action() {
                ArgAction::SetTrue | ArgAction::SetFalse => "BoolField",
                ArgAction::Append => "StringSliceField",
                _ => "StringField",
            };
            let display = DISPLAY_NAMES
                .iter()
                .find(|(flag, _)| *flag == name)
                .map(|(_, display)| *display)
                .unwrap_or(name);
            Some(json!({
                "FieldName": name,
                "Required": required,
                "DefaultValue": if variant == "StringSliceField" { json!([]) } else { json!(default) },
                "SuggestedValue": null,
                "Description": help,
                "ExportTarget": "gui",
                "HelpURL": "",
                "Variant": variant,
                "Rules": {},
                "Secret": SECRET_FIELDS.contains(&name),
                "StructFieldName": "",
                "SyncerConfig": {"Required": required, "Hidden": false, "ShortHand": "", "Persistent": false},
                "ConnectorConfig": {"DisplayName": display, "Required": required, "Placeholder": "", "FieldType": "", "BonusStrings": null},
                "WasReExported": false,
                "FieldGroups": null,
            }))
        })
        .collect();
    let by_name = |name: &str| {
        fields
            .iter()
            .find(|f| f["FieldName"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    const REQUIRED_TOGETHER: u8 = 1;
    const DEPENDENTS: u8 = 4;
    let constraints = json!([
        {"Kind": REQUIRED_TOGETHER, "Fields": [by_name("aws-access-key-id"), by_name("aws-secret-access-key")], "ExpectedFields": null},
        {"Kind": DEPENDENTS, "Fields": [by_name("aws-session-token")], "ExpectedFields": [by_name("aws-access-key-id")]},
        {"Kind": DEPENDENTS, "Fields": [by_name("external-id")], "ExpectedFields": [by_name("role-arn")]},
    ]);
    pretty(&json!({
        "Fields": fields,
        "Constraints": constraints,
        "DisplayName": metadata::DISPLAY_NAME,
        "HelpUrl": metadata::HELP_URL,
        "IconUrl": "",
        "CatalogId": "",
        "IsDirectory": false,
        "SupportsExternalResources": false,
        "RequiresExternalConnector": false,
        "FieldGroups": null,
    }))
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_connector_flag_has_a_display_name() {
        let command = PoolArgs::augment_args(Command::new("x"));
        for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
            let name = arg.get_long().unwrap();
            assert!(
                DISPLAY_NAMES.iter().any(|(flag, _)| *flag == name),
                "no display name for --{name}"
            );
        }
    }

    /// The committed files are what the code prints (regenerate with
    /// `baton-cognito capabilities > baton_capabilities.json` and
    /// `baton-cognito config > config_schema.json`).
    #[test]
    fn committed_metadata_files_match_the_code() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for (file, current) in [
            ("baton_capabilities.json", capabilities_json().unwrap()),
            ("config_schema.json", config_schema_json()),
        ] {
            let committed = std::fs::read_to_string(root.join(file)).unwrap_or_default();
            assert_eq!(
                committed, current,
                "{file} is stale: regenerate it (see this test's doc)"
            );
        }
    }

    #[test]
    fn capabilities_are_an_any_of_connector_capabilities() {
        let json: Value = serde_json::from_str(&capabilities_json().unwrap()).unwrap();
        assert_eq!(
            json["@type"],
            "type.googleapis.com/c1.connector.v2.ConnectorCapabilities"
        );
        assert!(
            json["connectorCapabilities"]
                .as_array()
                .unwrap()
                .contains(&json!("CAPABILITY_SYNC"))
        );
    }
}
