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
}

pub use c1::config::v1 as config;
pub use c1::connector::v2;

/// The encoded descriptors of every `.proto` file, served through gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/descriptor_set.bin"));

/// Every message of this project's protos, for protojson output.
fn descriptors() -> &'static prost_reflect::DescriptorPool {
    static POOL: std::sync::OnceLock<prost_reflect::DescriptorPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        prost_reflect::DescriptorPool::decode(FILE_DESCRIPTOR_SET)
            .expect("the descriptor set compiled into this binary decodes")
    })
}

/// The protojson form of a message (camelCase names, enums by name, `Any` resolved with its
/// `@type`), as Go's protojson writes it for Baton's JSON files and outputs.
pub fn to_protojson<M: prost::Message + prost::Name>(message: &M) -> serde_json::Value {
    let Some(descriptor) = descriptors().get_message_by_name(&M::full_name()) else {
        return serde_json::Value::Null;
    };
    match prost_reflect::DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()) {
        Ok(dynamic) => serde_json::to_value(&dynamic).unwrap_or(serde_json::Value::Null),
        Err(_) => serde_json::Value::Null,
    }
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
        let json = to_protojson(&any);
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

    #[test]
    fn any_type_urls_carry_the_googleapis_domain() {
        let any = pack(&v2::SkipEntitlementsAndGrants {});
        assert_eq!(
            any.type_url,
            "type.googleapis.com/c1.connector.v2.SkipEntitlementsAndGrants"
        );
    }
}
