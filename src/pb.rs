//! Code generated from this project's `.proto` files (`proto/`), under the proto package paths
//! so that cross-package references resolve, and re-exported under short names.

#[allow(clippy::all, clippy::pedantic, deprecated)]
pub mod c1 {
    pub mod connector {
        pub mod v2 {
            tonic::include_proto!("c1.connector.v2");
        }
    }
    pub mod config {
        pub mod v1 {
            tonic::include_proto!("c1.config.v1");
        }
    }
    pub mod connectorapi {
        pub mod baton {
            pub mod v1 {
                tonic::include_proto!("c1.connectorapi.baton.v1");
            }
        }
    }
}

#[allow(clippy::all, clippy::pedantic, deprecated)]
pub mod google {
    pub mod rpc {
        tonic::include_proto!("google.rpc");
    }
}

pub use c1::connectorapi::baton::v1 as baton;

pub use c1::config::v1 as config;
pub use c1::connector::v2;

/// The encoded descriptors of every `.proto` file, served through gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/descriptor_set.bin"));

/// Every message of this project's protos, for protojson output.
pub(crate) fn descriptors() -> &'static prost_reflect::DescriptorPool {
    static POOL: std::sync::OnceLock<prost_reflect::DescriptorPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        prost_reflect::DescriptorPool::decode(FILE_DESCRIPTOR_SET)
            .expect("the descriptor set compiled into this binary decodes")
    })
}

/// A message protojson cannot represent, e.g. a `Timestamp` outside the years 1 to 9999 in a
/// file an older version wrote. Printed as `null`, the record would vanish from the output
/// without a word; it is an error instead.
#[derive(Debug, thiserror::Error)]
#[error("a {message} cannot be printed as JSON: {reason}")]
pub struct UnprintableRecord {
    pub message: String,
    pub reason: String,
}

/// The protojson form of a message (camelCase names, enums by name, `Any` resolved with its
/// `@type`), as Go's protojson writes it for Baton's JSON files and outputs.
pub fn to_protojson<M: prost::Message + prost::Name>(
    message: &M,
) -> Result<serde_json::Value, UnprintableRecord> {
    let unprintable = |reason: String| UnprintableRecord {
        message: M::full_name(),
        reason,
    };
    let descriptor = descriptors()
        .get_message_by_name(&M::full_name())
        .ok_or_else(|| unprintable("its type is not in this binary's descriptors".into()))?;
    let dynamic =
        prost_reflect::DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
            .map_err(|err| unprintable(err.to_string()))?;
    serde_json::to_value(&dynamic).map_err(|err| unprintable(err.to_string()))
}

/// A JSON object as `google.protobuf.Struct` (how Baton carries profiles and action arguments).
pub fn struct_from_json(object: serde_json::Map<String, serde_json::Value>) -> prost_types::Struct {
    fn value(json: serde_json::Value) -> prost_types::Value {
        use prost_types::value::Kind;
        let kind = match json {
            serde_json::Value::Null => Kind::NullValue(0),
            serde_json::Value::Bool(b) => Kind::BoolValue(b),
            serde_json::Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
            serde_json::Value::String(s) => Kind::StringValue(s),
            serde_json::Value::Array(items) => Kind::ListValue(prost_types::ListValue {
                values: items.into_iter().map(value).collect(),
            }),
            serde_json::Value::Object(map) => Kind::StructValue(struct_from_json(map)),
        };
        prost_types::Value { kind: Some(kind) }
    }
    prost_types::Struct {
        fields: object.into_iter().map(|(k, v)| (k, value(v))).collect(),
    }
}

/// The JSON object a `google.protobuf.Struct` stands for.
pub fn struct_to_json(value: &prost_types::Struct) -> serde_json::Value {
    fn json(value: &prost_types::Value) -> serde_json::Value {
        use prost_types::value::Kind;
        match &value.kind {
            None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
            Some(Kind::BoolValue(b)) => (*b).into(),
            Some(Kind::NumberValue(n)) => {
                serde_json::Number::from_f64(*n).map_or(serde_json::Value::Null, Into::into)
            }
            Some(Kind::StringValue(s)) => s.clone().into(),
            Some(Kind::ListValue(list)) => list.values.iter().map(json).collect(),
            Some(Kind::StructValue(inner)) => struct_to_json(inner),
        }
    }
    value
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), json(v)))
        .collect()
}

/// Packs a message into `google.protobuf.Any` with the `type.googleapis.com/` URL Baton expects.
pub fn pack<M: prost::Name>(message: &M) -> prost_types::Any {
    prost_types::Any {
        type_url: M::type_url(),
        value: prost::Message::encode_to_vec(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protojson_resolves_any_and_names_enums() {
        let any = pack(&v2::ResourceType {
            id: "user".into(),
            traits: vec![v2::resource_type::Trait::User as i32],
            annotations: vec![pack(&v2::SkipEntitlementsAndGrants {})],
            ..Default::default()
        });
        let json = to_protojson(&any).unwrap();
        assert_eq!(
            json["@type"],
            "type.googleapis.com/c1.connector.v2.ResourceType"
        );
        assert_eq!(json["traits"][0], "TRAIT_USER");
        assert_eq!(
            json["annotations"][0]["@type"],
            "type.googleapis.com/c1.connector.v2.SkipEntitlementsAndGrants"
        );
    }

    /// #17: a Timestamp outside the years 1 to 9999 printed as `null`.
    #[test]
    fn a_message_protojson_cannot_represent_is_an_error_not_null() {
        let far = v2::RateLimitDescription {
            reset_at: Some(prost_types::Timestamp {
                seconds: 100_000_000_000_000_000,
                nanos: 0,
            }),
            ..Default::default()
        };
        let err = to_protojson(&far).unwrap_err();
        assert_eq!(err.message, "c1.connector.v2.RateLimitDescription");
        assert!(to_protojson(&pack(&far)).is_err());
        let ok = v2::RateLimitDescription::default();
        assert!(to_protojson(&ok).unwrap().is_object());
    }

    #[test]
    fn structs_round_trip_through_json() {
        let json = serde_json::json!({"a": "x", "b": true, "c": 2.5, "d": null, "e": [1.0, "y"], "f": {"g": "h"}});
        let serde_json::Value::Object(map) = json.clone() else {
            unreachable!()
        };
        assert_eq!(struct_to_json(&struct_from_json(map)), json);
    }

    #[test]
    fn baton_service_has_its_seven_rpcs() {
        let service = descriptors()
            .get_service_by_name("c1.connectorapi.baton.v1.BatonService")
            .expect("BatonService is compiled in");
        let rpcs: Vec<_> = service
            .methods()
            .map(|m| (m.name().to_owned(), m.is_client_streaming()))
            .collect();
        let expected = [
            "Hello",
            "GetTask",
            "GetTasks",
            "Heartbeat",
            "FinishTask",
            "UploadAsset",
            "StartDebugging",
        ];
        assert_eq!(rpcs.len(), expected.len());
        for (name, (got, streaming)) in expected.iter().zip(&rpcs) {
            assert_eq!(got, name);
            assert_eq!(*streaming, *name == "UploadAsset");
        }
    }

    #[test]
    fn any_type_urls_carry_the_googleapis_domain() {
        let any = pack(&v2::SkipEntitlementsAndGrants {});
        assert_eq!(
            any.type_url,
            "type.googleapis.com/c1.connector.v2.SkipEntitlementsAndGrants"
        );
    }
}
