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
    fn any_type_urls_carry_the_googleapis_domain() {
        let any = pack(&v2::SkipEntitlementsAndGrants {});
        assert_eq!(
            any.type_url,
            "type.googleapis.com/c1.connector.v2.SkipEntitlementsAndGrants"
        );
    }
}
