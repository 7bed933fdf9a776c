//! What this worker tells the platform about itself in Hello: its host id, build and OS.

use crate::pb::baton::baton_service_hello_request::{BuildInfo, OsInfo};

/// Host ids longer than this are refused by the platform.
const MAX_HOST_ID: usize = 256;

/// `--host-id` (BATON_HOST_ID), else the host name, else `baton-sdk`, as the SDK chooses it.
pub fn host_id(configured: Option<&str>) -> String {
    configured
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .or_else(hostname)
        .map(|id| id.chars().take(MAX_HOST_ID).collect())
        .unwrap_or_else(|| "baton-sdk".to_string())
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
}

pub fn build_info() -> BuildInfo {
    BuildInfo {
        lang_version: env!("BATON_RUSTC_VERSION").to_string(),
        package: env!("CARGO_PKG_NAME").to_string(),
        package_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// Empty values are replaced as the SDK does (`unknown`, virtualization `none`).
pub fn os_info() -> OsInfo {
    let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |key: &str| {
        release.lines().find_map(|line| {
            line.strip_prefix(key)
                .and_then(|rest| rest.strip_prefix('='))
                .map(|value| value.trim_matches('"').to_string())
        })
    };
    let known = |value: Option<String>| {
        value
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| "unknown".to_string())
    };
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .ok()
        .map(|v| v.trim().to_string());
    OsInfo {
        hostname: known(hostname()),
        os: std::env::consts::OS.to_string(),
        platform: known(field("ID")),
        platform_version: known(field("VERSION_ID")),
        platform_family: known(field("ID_LIKE").or_else(|| field("ID"))),
        kernel_version: known(kernel),
        kernel_arch: std::env::consts::ARCH.to_string(),
        virtualization_system: virtualization(),
    }
}

fn virtualization() -> String {
    let exists = |path: &str| std::path::Path::new(path).exists();
    if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() {
        "kubernetes"
    } else if exists("/.dockerenv") {
        "docker"
    } else if exists("/run/.containerenv") {
        "podman"
    } else {
        "none"
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_ids_fall_back_and_are_bounded() {
        assert_eq!(host_id(Some("worker-1")), "worker-1");
        assert_ne!(host_id(Some("  ")), "");
        assert_eq!(host_id(Some(&"x".repeat(300))).len(), MAX_HOST_ID);
        let info = os_info();
        assert!(!info.hostname.is_empty() && !info.kernel_arch.is_empty());
        assert!(build_info().lang_version.starts_with("rustc "));
    }
}
