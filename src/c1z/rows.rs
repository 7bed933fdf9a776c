//! What goes into the columns of each row, besides the encoded message.
//!
//! The key columns are what readers filter on (`external_id` is what single-object lookups
//! search for), so they follow the SDK to the character: resources are keyed
//! `<resource type>:<resource id>` with no escaping, entitlements and grants by their own id.

use std::borrow::Cow;

use prost::Message;

use crate::pb::v2::{Entitlement, Grant, GrantExpandable, Resource, ResourceId, ResourceType};

/// Why an object cannot be stored: it lacks an id a reader would need to find it.
pub(crate) struct Invalid {
    pub kind: &'static str,
    pub detail: String,
}

fn require<'a>(kind: &'static str, what: &str, value: &'a str) -> Result<&'a str, Invalid> {
    if value.is_empty() {
        Err(Invalid {
            kind,
            detail: format!("{what} is empty"),
        })
    } else {
        Ok(value)
    }
}

fn require_id<'a>(
    kind: &'static str,
    what: &str,
    id: Option<&'a ResourceId>,
) -> Result<&'a ResourceId, Invalid> {
    let id = id.ok_or_else(|| Invalid {
        kind,
        detail: format!("{what} is missing"),
    })?;
    require(kind, &format!("{what}.resource_type"), &id.resource_type)?;
    require(kind, &format!("{what}.resource"), &id.resource)?;
    Ok(id)
}

pub(crate) fn resource_type_key(rt: &ResourceType) -> Result<&str, Invalid> {
    require("a resource type", "id", &rt.id)
}

pub(crate) struct ResourceKeys<'a> {
    pub resource_type_id: &'a str,
    pub external_id: String,
    pub parent: Option<&'a ResourceId>,
}

/// A resource's columns; a parent present in the message is stored even if its fields are
/// empty, as the SDK does, and an absent one is NULL.
pub(crate) fn resource_keys(r: &Resource) -> Result<ResourceKeys<'_>, Invalid> {
    let id = require_id("a resource", "id", r.id.as_ref())?;
    Ok(ResourceKeys {
        resource_type_id: &id.resource_type,
        external_id: resource_external_id(&id.resource_type, &id.resource),
        parent: r.parent_resource_id.as_ref(),
    })
}

/// The `external_id` of a resource row.
pub(crate) fn resource_external_id(resource_type_id: &str, resource_id: &str) -> String {
    format!("{resource_type_id}:{resource_id}")
}

pub(crate) struct EntitlementKeys<'a> {
    pub resource: &'a ResourceId,
    pub external_id: &'a str,
}

pub(crate) fn entitlement_keys(e: &Entitlement) -> Result<EntitlementKeys<'_>, Invalid> {
    const KIND: &str = "an entitlement";
    let external_id = require(KIND, "id", &e.id)?;
    let resource = require_id(
        KIND,
        "resource.id",
        e.resource.as_ref().and_then(|r| r.id.as_ref()),
    )?;
    Ok(EntitlementKeys {
        resource,
        external_id,
    })
}

pub(crate) struct GrantKeys<'a> {
    pub resource: &'a ResourceId,
    pub entitlement_id: &'a str,
    pub principal: &'a ResourceId,
    pub external_id: &'a str,
}

pub(crate) fn grant_keys(g: &Grant) -> Result<GrantKeys<'_>, Invalid> {
    const KIND: &str = "a grant";
    let external_id = require(KIND, "id", &g.id)?;
    let entitlement = g.entitlement.as_ref().ok_or_else(|| Invalid {
        kind: KIND,
        detail: "entitlement is missing".into(),
    })?;
    let entitlement_id = require(KIND, "entitlement.id", &entitlement.id)?;
    let resource = require_id(
        KIND,
        "entitlement.resource.id",
        entitlement.resource.as_ref().and_then(|r| r.id.as_ref()),
    )?;
    let principal = require_id(
        KIND,
        "principal.id",
        g.principal.as_ref().and_then(|p| p.id.as_ref()),
    )?;
    Ok(GrantKeys {
        resource,
        entitlement_id,
        principal,
        external_id,
    })
}

/// Whether an `Any` holds a message of this full name: its type URL is the name or ends in
/// `/<name>` (the rule protobuf's Go runtime applies).
fn any_is(type_url: &str, full_name: &str) -> bool {
    match type_url.strip_suffix(full_name) {
        Some("") => true,
        Some(prefix) => prefix.ends_with('/'),
        None => false,
    }
}

fn is_expandable(any: &prost_types::Any) -> bool {
    any_is(
        &any.type_url,
        <GrantExpandable as prost::Name>::full_name().as_str(),
    )
}

/// Splits a grant's `GrantExpandable` annotation off into the `expansion` column, as the SDK
/// does: the stored grant carries no such annotation; the column holds the (first)
/// annotation's encoding if it names at least one non-blank entitlement, else NULL. An
/// annotation that does not decode is left in place, untouched, with no expansion.
pub(crate) fn split_expansion(grant: &Grant) -> (Cow<'_, Grant>, Option<Vec<u8>>) {
    let Some(first) = grant.annotations.iter().find(|a| is_expandable(a)) else {
        return (Cow::Borrowed(grant), None);
    };
    let Ok(expandable) = GrantExpandable::decode(first.value.as_slice()) else {
        return (Cow::Borrowed(grant), None);
    };
    let mut stripped = grant.clone();
    stripped.annotations.retain(|a| !is_expandable(a));
    let names_one = expandable
        .entitlement_ids
        .iter()
        .any(|id| !id.trim().is_empty());
    let expansion = names_one.then(|| expandable.encode_to_vec());
    (Cow::Owned(stripped), expansion)
}

/// Puts a stored `expansion` back into the grant's annotations (the inverse of
/// [`split_expansion`]), so that a grant reads back as the connector sent it.
pub(crate) fn reattach_expansion(
    grant: &mut Grant,
    expansion: &[u8],
) -> Result<(), prost::DecodeError> {
    if expansion.is_empty() {
        return Ok(());
    }
    let expandable = GrantExpandable::decode(expansion)?;
    let packed = crate::pb::pack(&expandable);
    match grant.annotations.iter_mut().find(|a| is_expandable(a)) {
        Some(existing) => *existing = packed,
        None => grant.annotations.push(packed),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::pack;

    fn grant_with(annotations: Vec<prost_types::Any>) -> Grant {
        Grant {
            id: "g".into(),
            annotations,
            ..Default::default()
        }
    }

    #[test]
    fn type_urls_match_like_go() {
        let name = "c1.connector.v2.GrantExpandable";
        assert!(any_is(
            "type.googleapis.com/c1.connector.v2.GrantExpandable",
            name
        ));
        assert!(any_is("c1.connector.v2.GrantExpandable", name));
        assert!(any_is(
            "example.com/x/c1.connector.v2.GrantExpandable",
            name
        ));
        assert!(!any_is(
            "type.googleapis.com/xc1.connector.v2.GrantExpandable",
            name
        ));
        assert!(!any_is(
            "type.googleapis.com/c1.connector.v2.GrantExpandableX",
            name
        ));
    }

    #[test]
    fn grants_without_the_annotation_are_stored_as_they_are() {
        let g = grant_with(vec![pack(&crate::pb::v2::GrantImmutable::default())]);
        let (stored, expansion) = split_expansion(&g);
        assert!(matches!(stored, Cow::Borrowed(_)));
        assert_eq!(expansion, None);
    }

    #[test]
    fn the_annotation_moves_into_the_column_and_back() {
        let exp = GrantExpandable {
            entitlement_ids: vec!["group:a:member".into()],
            shallow: true,
            resource_type_ids: vec!["user".into()],
        };
        let other = pack(&crate::pb::v2::GrantImmutable::default());
        let g = grant_with(vec![other.clone(), pack(&exp)]);
        let (stored, expansion) = split_expansion(&g);
        assert_eq!(stored.annotations, vec![other]);
        let expansion = expansion.expect("an expansion");
        assert_eq!(expansion, exp.encode_to_vec());
        let mut back = stored.into_owned();
        reattach_expansion(&mut back, &expansion).expect("decodes");
        assert_eq!(back, g);
    }

    #[test]
    fn blank_entitlement_ids_strip_the_annotation_without_an_expansion() {
        let exp = GrantExpandable {
            entitlement_ids: vec![" ".into(), String::new()],
            ..Default::default()
        };
        let g = grant_with(vec![pack(&exp)]);
        let (stored, expansion) = split_expansion(&g);
        assert!(stored.annotations.is_empty());
        assert_eq!(expansion, None);
    }

    #[test]
    fn an_undecodable_annotation_is_left_alone() {
        let bad = prost_types::Any {
            type_url: "type.googleapis.com/c1.connector.v2.GrantExpandable".into(),
            value: vec![0xFF, 0xFF, 0xFF],
        };
        let g = grant_with(vec![bad]);
        let (stored, expansion) = split_expansion(&g);
        assert!(matches!(stored, Cow::Borrowed(_)));
        assert_eq!(expansion, None);
    }

    #[test]
    fn grants_need_every_key() {
        let mut g = Grant::default();
        assert!(grant_keys(&g).is_err());
        g.id = "g".into();
        assert_eq!(
            grant_keys(&g).err().map(|e| e.detail),
            Some("entitlement is missing".into())
        );
    }
}
