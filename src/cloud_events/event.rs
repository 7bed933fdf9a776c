//! Changes as CloudEvents 1.0. User records that appear or change are
//! `com.amazon.cognito-idp.sync_trigger` events whose data is the user record, as the Cognito
//! sync trigger's consumers expect. Their `changetype` extension says which change it was
//! (`user.created`, `user.updated`, `user.enabled`, `user.disabled`), and `changedfields` lists
//! what an update changed. Everything else has a type of its own:
//! `com.amazon.cognito-idp.user.deleted`, `...group.created`, `...group.updated`,
//! `...group.deleted`, `...membership.added`, `...membership.removed`. Every event's source is
//! the pool's ARN and its subject the pool id.

use serde_json::{Map, Value, json};

use crate::changes::diff::{Change, FeedChange};
use crate::changes::state::FeedMeta;

/// The type of user appearances and changes.
pub const SYNC_TRIGGER: &str = "com.amazon.cognito-idp.sync_trigger";
const TYPE_PREFIX: &str = "com.amazon.cognito-idp.";

#[derive(Clone, Debug, PartialEq)]
pub struct CloudEvent {
    pub id: String,
    pub source: String,
    pub event_type: String,
    pub subject: String,
    /// RFC 3339: when the snapshot that showed the change was taken.
    pub time: String,
    pub data: Value,
    /// Extension attributes (lower-case alphanumeric names, string values).
    pub extensions: Vec<(&'static str, String)>,
}

impl CloudEvent {
    pub fn from_change(change: &FeedChange, meta: &FeedMeta, time: &str) -> CloudEvent {
        let mut extensions = vec![("changetype", change.change.kind().to_string())];
        let (event_type, data) = match &change.change {
            Change::UserCreated(user) | Change::UserEnabled(user) | Change::UserDisabled(user) => {
                (SYNC_TRIGGER.to_string(), to_json(user))
            }
            Change::UserUpdated { user, fields } => {
                extensions.push(("changedfields", fields.join(",")));
                (SYNC_TRIGGER.to_string(), to_json(user))
            }
            Change::GroupCreated(group) => (typed(&change.change), to_json(group)),
            Change::GroupUpdated { group, fields } => {
                extensions.push(("changedfields", fields.join(",")));
                (typed(&change.change), to_json(group))
            }
            Change::UserDeleted { username } => {
                (typed(&change.change), json!({ "Username": username }))
            }
            Change::GroupDeleted { group } => {
                (typed(&change.change), json!({ "GroupName": group }))
            }
            Change::MemberAdded { group, username } | Change::MemberRemoved { group, username } => {
                (
                    typed(&change.change),
                    json!({ "GroupName": group, "Username": username }),
                )
            }
        };
        CloudEvent {
            id: change.id.clone(),
            source: source(meta),
            event_type,
            subject: meta.pool_id.clone(),
            time: time.to_string(),
            data,
            extensions,
        }
    }

    /// The structured form: the whole event as one JSON object
    /// (`application/cloudevents+json`, or one line of `--sink -`).
    pub fn structured(&self) -> Value {
        let mut event = Map::new();
        for (name, value) in self.attributes() {
            event.insert(name.to_string(), Value::String(value));
        }
        event.insert("data".to_string(), self.data.clone());
        Value::Object(event)
    }

    /// The binary form's headers (`ce-<attribute>`); the body is the data, as JSON.
    pub fn binary_headers(&self) -> Vec<(String, String)> {
        self.attributes()
            .into_iter()
            .filter(|(name, _)| *name != "datacontenttype")
            .map(|(name, value)| (format!("ce-{name}"), header_value(&value)))
            .collect()
    }

    fn attributes(&self) -> Vec<(&str, String)> {
        let mut attributes = vec![
            ("specversion", "1.0".to_string()),
            ("id", self.id.clone()),
            ("source", self.source.clone()),
            ("type", self.event_type.clone()),
            ("subject", self.subject.clone()),
            ("time", self.time.clone()),
            ("datacontenttype", "application/json".to_string()),
        ];
        attributes.extend(self.extensions.iter().map(|(n, v)| (*n, v.clone())));
        attributes
    }
}

/// An attribute as an HTTP header value, percent-encoded as the CloudEvents HTTP binding asks:
/// space, `"`, `%` and every byte outside printable ASCII (so any non-ASCII UTF-8).
fn header_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            0x21..=0x7E if !matches!(byte, b'"' | b'%') => out.push(char::from(byte)),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn typed(change: &Change) -> String {
    format!("{TYPE_PREFIX}{}", change.kind())
}

fn to_json(record: &impl serde::Serialize) -> Value {
    serde_json::to_value(record).unwrap_or(Value::Null)
}

/// The pool's ARN, or one built from its id when Cognito did not say.
fn source(meta: &FeedMeta) -> String {
    meta.pool_arn.clone().unwrap_or_else(|| {
        let region = meta.pool_id.split('_').next().unwrap_or_default();
        format!("arn:aws:cognito-idp:{region}::userpool/{}", meta.pool_id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::changes::cognito_shape::UserRecord;

    #[test]
    fn header_values_are_percent_encoded_where_the_http_binding_says() {
        assert_eq!(header_value("user.updated"), "user.updated");
        assert_eq!(
            header_value("email,custom:team"),
            "email,custom:team",
            "printable ASCII stays"
        );
        assert_eq!(header_value("a b\"c%d"), "a%20b%22c%25d");
        assert_eq!(header_value("Zoë"), "Zo%C3%AB");
    }

    fn meta() -> FeedMeta {
        FeedMeta {
            pool_id: "us-east-1_Abc".into(),
            pool_arn: Some(
                "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Abc".into(),
            ),
            user_filter: String::new(),
        }
    }

    fn ann() -> UserRecord {
        UserRecord {
            username: "ann".into(),
            attributes: Vec::new(),
            enabled: true,
            user_status: "CONFIRMED".into(),
            user_create_date: None,
            user_last_modified_date: None,
            mfa_options: Vec::new(),
        }
    }

    #[test]
    fn a_user_update_is_a_sync_trigger_carrying_the_record() {
        let change = FeedChange {
            id: "abc".into(),
            change: Change::UserUpdated {
                user: ann(),
                fields: vec!["email".into(), "UserLastModifiedDate".into()],
            },
        };
        let event = CloudEvent::from_change(&change, &meta(), "2026-11-24T00:00:00Z");
        let structured = event.structured();
        assert_eq!(structured["specversion"], "1.0");
        assert_eq!(structured["type"], SYNC_TRIGGER);
        assert_eq!(structured["source"], meta().pool_arn.unwrap());
        assert_eq!(structured["subject"], "us-east-1_Abc");
        assert_eq!(structured["id"], "abc");
        assert_eq!(structured["changetype"], "user.updated");
        assert_eq!(structured["changedfields"], "email,UserLastModifiedDate");
        assert_eq!(structured["data"]["Username"], "ann");
        let headers = event.binary_headers();
        assert!(headers.contains(&("ce-type".to_string(), SYNC_TRIGGER.to_string())));
        assert!(headers.iter().all(|(name, _)| name.starts_with("ce-")));
    }

    #[test]
    fn other_changes_have_their_own_types() {
        let membership = FeedChange {
            id: "m".into(),
            change: Change::MemberRemoved {
                group: "admins".into(),
                username: "ann".into(),
            },
        };
        let event = CloudEvent::from_change(&membership, &meta(), "t");
        assert_eq!(
            event.event_type,
            "com.amazon.cognito-idp.membership.removed"
        );
        assert_eq!(
            event.data,
            json!({"GroupName": "admins", "Username": "ann"})
        );
    }
}
