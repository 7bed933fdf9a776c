//! Helpers for this crate's own unit tests.

use proptest::prelude::ProptestConfig;

/// Property-test settings: bounded, and without regression files written into the source tree.
pub fn proptest_config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}
