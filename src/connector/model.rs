//! Small pieces of the Baton resource model that users and groups share.

use std::collections::BTreeMap;

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use prost_types::value::Kind;
use prost_types::{Struct, Timestamp, Value};

use super::error::{ConnectorError, Result};
use crate::pb::pack;
use crate::pb::v2::{CapabilityPermission, CapabilityPermissions, Resource, ResourceId};

/// Baton's limit on display names and resource ids.
pub const MAX_NAME_BYTES: usize = 1024;

pub fn resource_id(type_id: &str, id: &str) -> ResourceId {
    ResourceId {
        resource_type: type_id.to_string(),
        resource: id.to_string(),
        baton_resource: false,
    }
}

/// A resource by reference: its id and nothing else, as grants name their principal.
pub fn resource_ref(type_id: &str, id: &str) -> Resource {
    Resource {
        id: Some(resource_id(type_id, id)),
        ..Resource::default()
    }
}

/// Cognito's limit on usernames, in characters.
pub const MAX_USERNAME_CHARS: usize = 128;

/// How much of a caller's string an error message repeats.
const SHOWN_BYTES: usize = 100;

/// The id of a resource a caller sent, which must be present.
pub fn resource_id_of(resource: &Resource) -> Result<&ResourceId> {
    let id = resource
        .id
        .as_ref()
        .filter(|id| !id.resource_type.is_empty() && !id.resource.is_empty())
        .ok_or_else(|| {
            ConnectorError::InvalidArgument(
                "resource.id with a resource_type and a resource is required".to_string(),
            )
        })?;
    checked_id("resource.id.resource", &id.resource)?;
    Ok(id)
}

/// A caller's id, refused before any Cognito call unless it is 1 to 1024 bytes (Baton's rule
/// for every id).
pub fn checked_id<'a>(what: &str, id: &'a str) -> Result<&'a str> {
    if id.is_empty() {
        return Err(ConnectorError::InvalidArgument(format!("{what} is empty")));
    }
    if id.len() > MAX_NAME_BYTES {
        return Err(ConnectorError::InvalidArgument(format!(
            "{what} is {} bytes long; Baton ids are 1 to {MAX_NAME_BYTES} bytes ({})",
            id.len(),
            shown(id)
        )));
    }
    Ok(id)
}

/// A caller's string as an error message repeats it: quoted, and cut short when long, so that a
/// huge input cannot make a huge status message or log line.
pub fn shown(text: &str) -> String {
    if text.len() <= SHOWN_BYTES {
        format!("{text:?}")
    } else {
        format!(
            "{:?}... ({} bytes)",
            crate::text::truncate(text, SHOWN_BYTES),
            text.len()
        )
    }
}

pub fn timestamp(at: &DateTime) -> Timestamp {
    Timestamp {
        seconds: at.secs(),
        nanos: at.subsec_nanos() as i32,
    }
}

/// RFC 3339, as Cognito's own APIs print dates.
pub fn rfc3339(at: &DateTime) -> String {
    at.fmt(Format::DateTime)
        .unwrap_or_else(|_| at.secs().to_string())
}

/// The `CapabilityPermissions` annotation: the IAM actions a resource type's capabilities need.
pub fn permissions_annotation(actions: &[&str]) -> prost_types::Any {
    pack(&CapabilityPermissions {
        permissions: actions
            .iter()
            .map(|action| CapabilityPermission {
                permission: (*action).to_string(),
            })
            .collect(),
    })
}

/// Builds a resource profile (`google.protobuf.Struct`).
#[derive(Default)]
pub struct Profile(BTreeMap<String, Value>);

impl Profile {
    fn put(&mut self, key: &str, kind: Kind) -> &mut Self {
        self.0.insert(key.to_string(), Value { kind: Some(kind) });
        self
    }

    pub fn text(&mut self, key: &str, value: &str) -> &mut Self {
        self.put(key, Kind::StringValue(value.to_string()))
    }

    pub fn text_opt(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.text(key, value),
            None => self,
        }
    }

    pub fn flag(&mut self, key: &str, value: bool) -> &mut Self {
        self.put(key, Kind::BoolValue(value))
    }

    pub fn number(&mut self, key: &str, value: f64) -> &mut Self {
        self.put(key, Kind::NumberValue(value))
    }

    pub fn date(&mut self, key: &str, value: Option<&DateTime>) -> &mut Self {
        match value {
            Some(at) => self.text(key, &rfc3339(at)),
            None => self,
        }
    }

    pub fn list(&mut self, key: &str, values: &[String]) -> &mut Self {
        let values = values
            .iter()
            .map(|v| Value {
                kind: Some(Kind::StringValue(v.clone())),
            })
            .collect();
        self.put(key, Kind::ListValue(prost_types::ListValue { values }))
    }

    pub fn build(&mut self) -> Struct {
        Struct {
            fields: std::mem::take(&mut self.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_print_as_rfc3339() {
        let at = DateTime::from_secs(1_700_000_000);
        assert_eq!(rfc3339(&at), "2023-11-14T22:13:20Z");
        assert_eq!(timestamp(&at).seconds, 1_700_000_000);
    }
}
