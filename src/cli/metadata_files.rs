//! The Baton metadata files: `capabilities` (protojson of an `Any` wrapping
//! `ConnectorCapabilities`, committed as `baton_capabilities.json`) and `config` (the
//! configuration schema, committed as `config_schema.json`). Both are derived from the code, so
//! the committed copies can be checked for drift.

use clap::{ArgAction, Args, Command, CommandFactory};
use serde_json::{Value, json};

use super::args::Cli;
use super::pool_flags::{FormField, PoolArgs};
use super::sdk_flags::STANDARD_FIELDS;
use crate::connector::metadata;
use crate::pb::{pack, to_protojson};

/// `baton_capabilities.json`.
pub fn capabilities_json() -> Result<String, crate::pb::UnprintableRecord> {
    let json = to_protojson(&pack(&metadata::capabilities()))?;
    Ok(pretty(&json))
}

/// `config_schema.json`: the connector's own fields in the shape Baton's Go SDK exports its
/// `field.Configuration` (Go field names, relationships by kind number).
pub fn config_schema_json() -> String {
    let cli = Cli::command();
    let standard = STANDARD_FIELDS.iter().filter_map(|field| {
        let arg = cli.get_arguments().find(|a| a.get_id() == field.id)?;
        let default = arg
            .get_default_values()
            .first()
            .map(|v| v.to_string_lossy().into_owned())
            .unwrap_or_default();
        let secret = arg.is_hide_env_values_set();
        Some(json!({
            "FieldName": arg.get_long()?,
            "Required": false,
            "DefaultValue": match field.variant {
                "StringSliceField" => json!([]),
                "BoolField" => json!(default == "true"),
                "IntField" => default.parse::<i64>().map_or(Value::Null, |n| json!(n)),
                _ => json!(default),
            },
            "SuggestedValue": null,
            "Description": arg.get_help().map(|h| h.to_string()).unwrap_or_default(),
            "ExportTarget": field.export,
            "HelpURL": "",
            "Variant": field.variant,
            "Rules": {},
            "Secret": secret,
            "StructFieldName": "",
            "SyncerConfig": {
                "Required": false,
                "Hidden": field.hidden,
                "ShortHand": arg.get_short().map(String::from).unwrap_or_default(),
                "Persistent": true,
            },
            "ConnectorConfig": {"DisplayName": "", "Required": false, "Placeholder": "", "FieldType": "", "BonusStrings": null},
            "WasReExported": false,
            "FieldGroups": null,
        }))
    });
    let command = PoolArgs::augment_args(Command::new("baton-cognito"));
    let form_of = |id: &str| PoolArgs::FORM.iter().find(|field| field.id == id);
    let fields: Vec<Value> = command
        .get_arguments()
        .filter_map(|arg| Some((arg.get_long()?, form_of(arg.get_id().as_str())?, arg)))
        .map(|(name, form, arg)| {
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
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
            let required = form.required;
            json!({
                "FieldName": name,
                "Required": required,
                "DefaultValue": match variant {
                    "StringSliceField" => json!([]),
                    "BoolField" => json!(default == "true"),
                    _ => json!(default),
                },
                "SuggestedValue": null,
                "Description": help,
                "ExportTarget": "gui",
                "HelpURL": "",
                "Variant": variant,
                "Rules": {},
                "Secret": form.secret,
                "StructFieldName": "",
                "SyncerConfig": {"Required": required, "Hidden": false, "ShortHand": "", "Persistent": false},
                "ConnectorConfig": {"DisplayName": form.display_name, "Required": required, "Placeholder": "", "FieldType": "", "BonusStrings": null},
                "WasReExported": false,
                "FieldGroups": null,
            })
        })
        .collect();
    let field = |id: &str| {
        let long = id.replace('_', "-");
        fields
            .iter()
            .find(|f| f["FieldName"] == long.as_str())
            .cloned()
            .unwrap_or(Value::Null)
    };
    const REQUIRED_TOGETHER: u8 = 1;
    const DEPENDENTS: u8 = 4;
    let constraints: Vec<Value> = PoolArgs::FORM
        .iter()
        .flat_map(|form: &FormField| {
            let together = form.together_with.map(|other| {
                json!({"Kind": REQUIRED_TOGETHER, "Fields": [field(form.id), field(other)], "ExpectedFields": null})
            });
            let needs = form.needs.map(|other| {
                json!({"Kind": DEPENDENTS, "Fields": [field(form.id)], "ExpectedFields": [field(other)]})
            });
            together.into_iter().chain(needs)
        })
        .collect();
    pretty(&json!({
        "Fields": standard.chain(fields).collect::<Vec<_>>(),
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

    /// The form and the flags cannot drift apart: every flag shown has its form field, no
    /// hidden flag has one, and the constraints name flags that exist.
    #[test]
    fn every_shown_connector_flag_and_only_those_have_a_form_field() {
        let command = PoolArgs::augment_args(Command::new("x"));
        let ids = |hidden: bool| -> Vec<String> {
            command
                .get_arguments()
                .filter(|a| a.is_hide_set() == hidden)
                .map(|a| a.get_id().to_string())
                .collect()
        };
        let form: Vec<String> = PoolArgs::FORM.iter().map(|f| f.id.to_string()).collect();
        assert_eq!(form, ids(false));
        assert!(ids(true).iter().all(|id| !form.contains(id)));
        for field in PoolArgs::FORM {
            for other in field.together_with.iter().chain(&field.needs) {
                assert!(
                    form.iter().any(|id| id == other),
                    "{} names {other}",
                    field.id
                );
            }
        }
        let secret: Vec<&str> = PoolArgs::FORM
            .iter()
            .filter(|f| f.secret)
            .map(|f| f.id)
            .collect();
        assert_eq!(
            secret,
            ["aws_secret_access_key", "aws_session_token", "external_id"]
        );
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
