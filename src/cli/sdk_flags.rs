//! The Baton SDK's standard flags (its `pkg/field/defaults.go`), which every connector built on
//! the SDK takes, under the SDK's names, `BATON_*` variables and meanings: an operator who runs
//! ten Baton connectors runs this one the same way. Those that apply here are declared in
//! [`SyncScopeArgs`] and [`RuntimeArgs`] (the rest, logs, provisioning, event feed and service
//! mode, beside their modes in `args.rs`); those this connector deliberately does not support are
//! accepted by the parser only to be refused, with the reason ([`UNSUPPORTED`]), never ignored.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use clap::{Arg, ArgAction, ArgMatches, Args, Command};

use crate::modes::RunError;
use crate::modes::compact::CompactRequest;
use crate::modes::one_shot::OneShotSync;
use crate::pb::v2::ResourceId;
use crate::sync::SyncScope;
use crate::sync::reach::Reach;
use crate::telemetry::{OtelSettings, OtelTransport};

/// What a sync reads (the SDK's sync scoping flags).
#[derive(Debug, Args)]
#[command(next_help_heading = "Sync scope (the Baton SDK's flags)")]
pub struct SyncScopeArgs {
    /// Skip the full sync: check that the pools can be read and write an empty sync (a service
    /// mode worker uploads that for every full sync task).
    #[arg(long, env = "BATON_SKIP_FULL_SYNC")]
    pub skip_full_sync: bool,

    /// Sync only these resources, as Baton ids (bid:r:TYPE/ID, e.g. bid:r:group/admins or
    /// bid:r:user/ann), into a partial sync.
    #[arg(
        long,
        env = "BATON_SYNC_RESOURCES",
        value_delimiter = ',',
        value_name = "BID"
    )]
    pub sync_resources: Vec<String>,

    /// Sync only resources of these types (user, group; user_pool with several pools).
    #[arg(
        long,
        env = "BATON_SYNC_RESOURCE_TYPES",
        value_delimiter = ',',
        value_name = "TYPE"
    )]
    pub sync_resource_types: Vec<String>,

    /// Sync resources only: no entitlements and no grants.
    #[arg(long, env = "BATON_SKIP_ENTITLEMENTS_AND_GRANTS")]
    pub skip_entitlements_and_grants: bool,

    /// With --sync-resources: sync the resources and their entitlements, not their grants.
    #[arg(
        long,
        env = "BATON_SKIP_GRANTS",
        hide = true,
        requires = "sync_resources"
    )]
    pub skip_grants: bool,
}

impl SyncScopeArgs {
    /// The one-shot sync these flags ask for.
    pub fn one_shot(&self, fresh: bool) -> Result<OneShotSync, RunError> {
        let targets = self
            .sync_resources
            .iter()
            .map(|text| parse_resource_bid(text))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| RunError::Usage(format!("--sync-resources: {err}")))?;
        if fresh && (self.skip_full_sync || !targets.is_empty()) {
            return Err(RunError::Usage(
                "--fresh starts a full sync over; it means nothing with --skip-full-sync or --sync-resources".to_string(),
            ));
        }
        if self.skip_full_sync
            && let Some(other) = self.given().find(|f| *f != "--skip-full-sync")
        {
            return Err(RunError::Usage(format!(
                "--skip-full-sync and {other} cannot be used together: a skipped sync reads nothing"
            )));
        }
        let reach = match (self.skip_full_sync, targets.is_empty()) {
            (true, _) => Reach::Skipped,
            (false, true) => Reach::Full,
            (false, false) => Reach::Targeted(targets),
        };
        Ok(OneShotSync {
            fresh,
            reach,
            scope: SyncScope {
                skip_entitlements_and_grants: self.skip_entitlements_and_grants,
                skip_grants: self.skip_grants,
            },
            type_ids: self.sync_resource_types.clone(),
        })
    }

    /// The first scoping flag given, for modes that sync nothing of their own choosing.
    pub fn first_given(&self) -> Option<&'static str> {
        self.given().next()
    }

    /// The scoping flags given, in declaration order.
    fn given(&self) -> impl Iterator<Item = &'static str> {
        [
            ("--skip-full-sync", self.skip_full_sync),
            ("--sync-resources", !self.sync_resources.is_empty()),
            (
                "--sync-resource-types",
                !self.sync_resource_types.is_empty(),
            ),
            (
                "--skip-entitlements-and-grants",
                self.skip_entitlements_and_grants,
            ),
            ("--skip-grants", self.skip_grants),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
    }
}

/// Export to an OpenTelemetry collector (the SDK's telemetry flags).
#[derive(Debug, Args)]
#[command(next_help_heading = "OpenTelemetry (the Baton SDK's flags)")]
pub struct OtelArgs {
    /// The OpenTelemetry collector (host:port) that gets the traces (syncs, listings, Cognito
    /// calls, service-mode tasks) and the logs, over OTLP/gRPC with TLS.
    #[arg(
        long,
        env = "BATON_OTEL_COLLECTOR_ENDPOINT",
        global = true,
        value_name = "HOST:PORT"
    )]
    pub otel_collector_endpoint: Option<String>,

    /// A PEM file of the CA the collector's certificate is checked against (else the system's).
    #[arg(
        long,
        env = "BATON_OTEL_COLLECTOR_ENDPOINT_TLS_CERT_PATH",
        global = true,
        hide = true,
        value_name = "PEM",
        conflicts_with = "otel_collector_endpoint_tls_cert"
    )]
    pub otel_collector_endpoint_tls_cert_path: Option<PathBuf>,

    /// That CA as PEM text in unpadded URL-safe base64, as the SDK takes it.
    #[arg(
        long,
        env = "BATON_OTEL_COLLECTOR_ENDPOINT_TLS_CERT",
        global = true,
        hide = true,
        value_name = "BASE64"
    )]
    pub otel_collector_endpoint_tls_cert: Option<String>,

    /// Reach the collector in plaintext.
    #[arg(
        long,
        env = "BATON_OTEL_COLLECTOR_ENDPOINT_TLS_INSECURE",
        global = true,
        hide = true
    )]
    pub otel_collector_endpoint_tls_insecure: bool,

    /// Export no traces.
    #[arg(long, env = "BATON_OTEL_TRACING_DISABLED", global = true, hide = true)]
    pub otel_tracing_disabled: bool,

    /// Export no logs.
    #[arg(long, env = "BATON_OTEL_LOGGING_DISABLED", global = true, hide = true)]
    pub otel_logging_disabled: bool,
}

impl OtelArgs {
    /// What to export where, if a collector is given (and something is left to export).
    pub fn settings(&self) -> Result<Option<OtelSettings>, String> {
        let Some(endpoint) = self.otel_collector_endpoint.as_deref().map(str::trim) else {
            let without = [
                (
                    "--otel-collector-endpoint-tls-cert-path",
                    self.otel_collector_endpoint_tls_cert_path.is_some(),
                ),
                (
                    "--otel-collector-endpoint-tls-cert",
                    self.otel_collector_endpoint_tls_cert.is_some(),
                ),
                (
                    "--otel-collector-endpoint-tls-insecure",
                    self.otel_collector_endpoint_tls_insecure,
                ),
                ("--otel-tracing-disabled", self.otel_tracing_disabled),
                ("--otel-logging-disabled", self.otel_logging_disabled),
            ];
            return match without.iter().find(|(_, given)| *given) {
                Some((flag, _)) => Err(format!("{flag} needs --otel-collector-endpoint")),
                None => Ok(None),
            };
        };
        if endpoint.is_empty() || (self.otel_tracing_disabled && self.otel_logging_disabled) {
            return Ok(None);
        }
        let host_port = endpoint
            .parse::<http::uri::Authority>()
            .ok()
            .filter(|a| a.as_str() == endpoint && a.port().is_some() && !endpoint.contains('@'));
        if host_port.is_none() {
            return Err(format!(
                "--otel-collector-endpoint: {endpoint:?} is not HOST:PORT (e.g. otel-collector:4317); TLS is used unless --otel-collector-endpoint-tls-insecure"
            ));
        }
        let ca = match (
            &self.otel_collector_endpoint_tls_cert_path,
            &self.otel_collector_endpoint_tls_cert,
        ) {
            (Some(path), _) => Some(std::fs::read_to_string(path).map_err(|err| {
                format!(
                    "--otel-collector-endpoint-tls-cert-path: cannot read {}: {err}",
                    path.display()
                )
            })?),
            (None, Some(text)) => Some(
                URL_SAFE_NO_PAD
                    .decode(text.trim().trim_end_matches('='))
                    .ok()
                    .and_then(|pem| String::from_utf8(pem).ok())
                    .ok_or("--otel-collector-endpoint-tls-cert: not PEM text in URL-safe base64")?,
            ),
            (None, None) => None,
        };
        if let Some(pem) = &ca
            && !pem.contains("-----BEGIN CERTIFICATE-----")
        {
            return Err("--otel-collector-endpoint-tls-cert: holds no PEM certificate".to_string());
        }
        let transport = match (self.otel_collector_endpoint_tls_insecure, ca) {
            (true, Some(_)) => {
                return Err(
                    "--otel-collector-endpoint-tls-insecure cannot be used with a CA for TLS"
                        .to_string(),
                );
            }
            (true, None) => OtelTransport::Plaintext,
            (false, Some(pem)) => OtelTransport::Ca(pem),
            (false, None) => OtelTransport::SystemRoots,
        };
        Ok(Some(OtelSettings {
            endpoint: endpoint.to_string(),
            transport,
            traces: !self.otel_tracing_disabled,
            logs: !self.otel_logging_disabled,
        }))
    }
}

/// `--compact-syncs`: fold syncs of several files into one (the SDK's compaction flags).
#[derive(Debug, Args)]
pub struct CompactArgs {
    /// Fold the syncs of --compact-file-paths (with --compact-sync-ids, one per file, in order:
    /// a later sync's records stand over an earlier one's) into one new .c1z in
    /// --compact-output-path, named compacted-<sync id>.c1z. No call to Cognito.
    #[arg(long, env = "BATON_COMPACT_SYNCS", hide = true)]
    pub compact_syncs: bool,

    /// The directory the compacted file is written to.
    #[arg(
        long,
        env = "BATON_COMPACT_OUTPUT_PATH",
        hide = true,
        value_name = "DIR"
    )]
    pub compact_output_path: Option<PathBuf>,

    /// The files whose syncs are folded, in order.
    #[arg(
        long,
        env = "BATON_COMPACT_FILE_PATHS",
        hide = true,
        value_delimiter = ',',
        value_name = "FILE"
    )]
    pub compact_file_paths: Vec<PathBuf>,

    /// The sync of each file, in the same order.
    #[arg(
        long,
        env = "BATON_COMPACT_SYNC_IDS",
        hide = true,
        value_delimiter = ',',
        value_name = "SYNC_ID"
    )]
    pub compact_sync_ids: Vec<String>,
}

impl CompactArgs {
    /// The compaction asked for, if --compact-syncs is given.
    pub fn request(&self) -> Result<Option<CompactRequest>, RunError> {
        let given = self.compact_output_path.is_some()
            || !self.compact_file_paths.is_empty()
            || !self.compact_sync_ids.is_empty();
        if !self.compact_syncs {
            return match given {
                true => Err(RunError::Usage(
                    "--compact-output-path, --compact-file-paths and --compact-sync-ids need --compact-syncs".to_string(),
                )),
                false => Ok(None),
            };
        }
        let Some(output_dir) = self.compact_output_path.clone() else {
            return Err(RunError::Usage(
                "--compact-syncs needs --compact-output-path, the directory to write to"
                    .to_string(),
            ));
        };
        if self.compact_file_paths.len() != self.compact_sync_ids.len() {
            return Err(RunError::Usage(format!(
                "--compact-syncs needs exactly one sync id (--compact-sync-ids) per file (--compact-file-paths): {} ids for {} files",
                self.compact_sync_ids.len(),
                self.compact_file_paths.len()
            )));
        }
        if self.compact_file_paths.len() < 2 {
            return Err(RunError::Usage(
                "--compact-syncs folds two syncs or more: give them with --compact-file-paths and --compact-sync-ids".to_string(),
            ));
        }
        Ok(Some(CompactRequest {
            output_dir,
            syncs: self
                .compact_file_paths
                .iter()
                .cloned()
                .zip(self.compact_sync_ids.iter().cloned())
                .collect(),
        }))
    }
}

/// A resource's Baton id (`bid:r:TYPE/ID`, or `bid:r:PARENT_TYPE/PARENT_ID/TYPE/ID`), as the
/// SDK's `--sync-resources` takes it: `:` and `/` inside a value are escaped with `\`, and so is
/// `\` itself. The resource's own type and id.
pub fn parse_resource_bid(text: &str) -> Result<ResourceId, String> {
    let Some(path) = text.strip_prefix("bid:r:") else {
        return Err(format!(
            "{text:?} is not a resource's Baton id; write bid:r:TYPE/ID (e.g. bid:r:group/admins)"
        ));
    };
    let (mut parts, mut part) = (Vec::new(), String::new());
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) => part.push(escaped),
                None => return Err(format!("{text:?} ends in a lone \\")),
            },
            '/' => parts.push(std::mem::take(&mut part)),
            ':' => {
                return Err(format!(
                    "{text:?}: a ':' inside a Baton id's value is written \\:"
                ));
            }
            c => part.push(c),
        }
    }
    parts.push(part);
    match parts.as_slice() {
        [.., resource_type, resource]
            if (parts.len() == 2 || parts.len() == 4)
                && !resource_type.is_empty()
                && !resource.is_empty() =>
        {
            Ok(ResourceId {
                resource_type: resource_type.clone(),
                resource: resource.clone(),
                ..ResourceId::default()
            })
        }
        _ => Err(format!(
            "{text:?} is not a resource's Baton id; write bid:r:TYPE/ID, with a parent bid:r:PARENT_TYPE/PARENT_ID/TYPE/ID"
        )),
    }
}

/// Working files, timeouts and the file format (the SDK's runtime flags).
#[derive(Debug, Args)]
pub struct RuntimeArgs {
    /// Service mode: the directory sync tasks build their files in (else the system's temporary
    /// directory). It must exist and be writable. A one-shot sync builds its file beside the
    /// destination and refuses it.
    #[arg(long, env = "BATON_C1Z_TEMP_DIR", global = true, value_name = "DIR")]
    pub c1z_temp_dir: Option<PathBuf>,

    /// Seconds one HTTP request may take, to Cognito (each attempt) or to the platform, 1 to
    /// 1800. Unset: 30 for Cognito (a stuck call is retried sooner) and the platform's own.
    #[arg(long, env = "BATON_HTTP_TIMEOUT_SECONDS", global = true, value_parser = clap::value_parser!(u64).range(1..=1800), value_name = "SECONDS", allow_negative_numbers = true)]
    pub http_timeout_seconds: Option<u64>,

    /// The storage engine of the files written: sqlite, the only one here (the .c1z v1 format,
    /// which every Baton tool reads). pebble is refused.
    #[arg(long, env = "BATON_STORAGE_ENGINE", global = true, value_parser = parse_storage_engine, value_name = "ENGINE")]
    pub storage_engine: Option<String>,
}

impl RuntimeArgs {
    /// `--http-timeout-seconds`, if given.
    pub fn http_timeout(&self) -> Option<Duration> {
        self.http_timeout_seconds.map(Duration::from_secs)
    }
}

pub fn parse_rfc3339(text: &str) -> Result<SystemTime, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(SystemTime::from)
        .map_err(|err| format!("not an RFC 3339 time (e.g. 2026-11-24T10:00:00Z): {err}"))
}

fn parse_storage_engine(text: &str) -> Result<String, String> {
    match text {
        "" | "sqlite" => Ok(text.to_string()),
        "pebble" => Err("this connector writes .c1z v1 files (SQLite), which every Baton tool reads; it does not write pebble".to_string()),
        other => Err(format!("{other:?} is not a storage engine; the SDK's are sqlite and pebble, and this connector writes sqlite")),
    }
}

/// How the SDK's schema lists one of its standard fields that this connector takes: its
/// variant, where it is exported (`none`: the command line only; `ops`: operators' settings),
/// and whether it is hidden. `config_schema.json` lists them first, in this order, as a Go
/// connector's `config` does.
pub struct StandardField {
    /// clap's id of the flag.
    pub id: &'static str,
    pub variant: &'static str,
    pub export: &'static str,
    pub hidden: bool,
}

const fn standard(id: &'static str, variant: &'static str, export: &'static str) -> StandardField {
    StandardField {
        id,
        variant,
        export,
        hidden: false,
    }
}

const fn hidden(id: &'static str, variant: &'static str, export: &'static str) -> StandardField {
    StandardField {
        id,
        variant,
        export,
        hidden: true,
    }
}

const BOOL: &str = "BoolField";
const STRING: &str = "StringField";
const STRINGS: &str = "StringSliceField";
const INT: &str = "IntField";

/// The SDK's standard fields this connector takes, in the SDK's order.
pub const STANDARD_FIELDS: &[StandardField] = &[
    standard("provisioning", BOOL, "none"),
    hidden("c1z_temp_dir", STRING, "none"),
    standard("client_id", STRING, "none"),
    standard("client_secret", STRING, "none"),
    hidden("create_account_email", STRING, "none"),
    hidden("create_account_login", STRING, "none"),
    hidden("create_account_profile", STRING, "none"),
    hidden("create_account_resource_type", STRING, "none"),
    hidden("delete_resource", STRING, "none"),
    hidden("delete_resource_type", STRING, "none"),
    hidden("event_feed", BOOL, "none"),
    hidden("event_feed_id", STRING, "none"),
    hidden("event_feed_start_at", STRING, "none"),
    hidden("event_feed_cursor", STRING, "none"),
    standard("file", STRING, "none"),
    hidden("grant_entitlement", STRING, "none"),
    hidden("grant_principal", STRING, "none"),
    hidden("grant_principal_type", STRING, "none"),
    standard("log_format", STRING, "none"),
    standard("log_path", STRINGS, "none"),
    hidden("revoke_grant", STRING, "none"),
    standard("log_level", STRING, "ops"),
    standard("log_level_debug_expires_at", STRING, "ops"),
    standard("skip_full_sync", BOOL, "none"),
    standard("sync_resources", STRINGS, "none"),
    standard("sync_resource_types", STRINGS, "none"),
    standard("skip_entitlements_and_grants", BOOL, "none"),
    hidden("skip_grants", BOOL, "none"),
    hidden("invoke_action", STRING, "none"),
    hidden("invoke_action_args", STRING, "none"),
    hidden("invoke_action_resource_type", STRING, "none"),
    hidden("list_action_schemas", BOOL, "none"),
    hidden("list_action_schemas_resource_type", STRING, "none"),
    standard("health_check", BOOL, "ops"),
    standard("health_check_port", INT, "ops"),
    hidden("health_check_bind_address", STRING, "ops"),
    standard("http_timeout_seconds", INT, "ops"),
    standard("storage_engine", STRING, "none"),
    standard("task_concurrency", INT, "none"),
    hidden("compact_sync_ids", STRINGS, "none"),
    hidden("compact_file_paths", STRINGS, "none"),
    hidden("compact_output_path", STRING, "none"),
    hidden("compact_syncs", BOOL, "none"),
    standard("otel_collector_endpoint", STRING, "ops"),
    hidden("otel_collector_endpoint_tls_cert_path", STRING, "ops"),
    hidden("otel_collector_endpoint_tls_cert", STRING, "ops"),
    hidden("otel_collector_endpoint_tls_insecure", BOOL, "ops"),
    hidden("otel_tracing_disabled", BOOL, "ops"),
    hidden("otel_logging_disabled", BOOL, "ops"),
];

/// An SDK flag this connector does not support, and why.
pub struct Unsupported {
    pub flag: &'static str,
    /// Whether it takes a value (otherwise it is a switch).
    pub takes_value: bool,
    pub why: &'static str,
}

const TICKETS: &str = "Cognito has no tickets: this connector does no ticketing";
const EXTERNAL: &str =
    "matching users against another connector's file (external resources) is not supported";
const WORKERS: &str = "a sync's parallelism here follows Cognito's quotas (--api-budget, --category-budget), not a worker count";
const RESOURCE_ACTIONS: &str = "no SDK command reads it; use --invoke-action with --invoke-action-resource-type, or --list-action-schemas";
const DIFF: &str = "it compares two syncs held in one file, and this connector writes one sync per file; fold syncs together with --compact-syncs";

/// The SDK's flags this connector refuses, each with the reason.
pub const UNSUPPORTED: &[Unsupported] = &[
    Unsupported {
        flag: "ticketing",
        takes_value: false,
        why: TICKETS,
    },
    Unsupported {
        flag: "create-ticket",
        takes_value: false,
        why: TICKETS,
    },
    Unsupported {
        flag: "bulk-create-ticket",
        takes_value: false,
        why: TICKETS,
    },
    Unsupported {
        flag: "bulk-ticket-template-path",
        takes_value: true,
        why: TICKETS,
    },
    Unsupported {
        flag: "get-ticket",
        takes_value: false,
        why: TICKETS,
    },
    Unsupported {
        flag: "list-ticket-schemas",
        takes_value: false,
        why: TICKETS,
    },
    Unsupported {
        flag: "ticket-id",
        takes_value: true,
        why: TICKETS,
    },
    Unsupported {
        flag: "ticket-template-path",
        takes_value: true,
        why: TICKETS,
    },
    Unsupported {
        flag: "rotate-credentials",
        takes_value: true,
        why: "Cognito users' passwords are theirs and the pool's; this connector rotates no credentials",
    },
    Unsupported {
        flag: "rotate-credentials-type",
        takes_value: true,
        why: "Cognito users' passwords are theirs and the pool's; this connector rotates no credentials",
    },
    Unsupported {
        flag: "external-resource-c1z",
        takes_value: true,
        why: EXTERNAL,
    },
    Unsupported {
        flag: "external-resource-entitlement-id-filter",
        takes_value: true,
        why: EXTERNAL,
    },
    Unsupported {
        flag: "external-resource-traits",
        takes_value: true,
        why: EXTERNAL,
    },
    Unsupported {
        flag: "workers",
        takes_value: true,
        why: WORKERS,
    },
    Unsupported {
        flag: "parallel-sync",
        takes_value: false,
        why: WORKERS,
    },
    Unsupported {
        flag: "keep-previous-sync-c1z",
        takes_value: false,
        why: "this connector does not replay ETags from a previous sync: every sync reads the pools whole",
    },
    Unsupported {
        flag: "auth-method",
        takes_value: true,
        why: "this connector authenticates one way (AWS credentials): there are no field groups to choose from",
    },
    Unsupported {
        flag: "session-store-maximum-size",
        takes_value: true,
        why: "this connector keeps no session store to size",
    },
    Unsupported {
        flag: "list-resource-actions",
        takes_value: true,
        why: RESOURCE_ACTIONS,
    },
    Unsupported {
        flag: "invoke-resource-action",
        takes_value: true,
        why: RESOURCE_ACTIONS,
    },
    Unsupported {
        flag: "invoke-resource-action-resource-type",
        takes_value: true,
        why: RESOURCE_ACTIONS,
    },
    Unsupported {
        flag: "invoke-resource-action-args",
        takes_value: true,
        why: RESOURCE_ACTIONS,
    },
    Unsupported {
        flag: "diff-syncs",
        takes_value: false,
        why: DIFF,
    },
    Unsupported {
        flag: "base-sync-id",
        takes_value: true,
        why: DIFF,
    },
    Unsupported {
        flag: "applied-sync-id",
        takes_value: true,
        why: DIFF,
    },
];

/// The command with the unsupported flags added, hidden, so that they parse (from the command
/// line or `BATON_*`) and can be refused by name instead of failing as unknown.
pub fn with_unsupported(command: Command) -> Command {
    command.args(UNSUPPORTED.iter().map(|u| {
        let arg = Arg::new(u.flag)
            .long(u.flag)
            .env(format!("BATON_{}", u.flag.to_uppercase().replace('-', "_")))
            .global(true)
            .hide(true);
        if u.takes_value {
            arg.num_args(1).value_name("VALUE")
        } else {
            arg.action(ArgAction::SetTrue)
        }
    }))
}

/// Refuses the first unsupported flag that was given, saying why.
pub fn refuse_unsupported(matches: &ArgMatches) -> Result<(), RunError> {
    let given = UNSUPPORTED.iter().find(|u| {
        if u.takes_value {
            matches.contains_id(u.flag)
        } else {
            matches.get_flag(u.flag)
        }
    });
    match given {
        Some(u) => Err(RunError::Usage(format!(
            "--{}: not supported by baton-cognito: {}",
            u.flag, u.why
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<(), RunError> {
        let command = with_unsupported(crate::cli::Cli::command());
        let matches = command
            .try_get_matches_from(std::iter::once("baton-cognito").chain(args.iter().copied()))
            .map_err(|e| RunError::Usage(e.to_string()))?;
        refuse_unsupported(&matches)
    }

    #[test]
    fn every_unsupported_flag_is_refused_by_name_with_its_reason() {
        for u in UNSUPPORTED {
            let flag = format!("--{}", u.flag);
            let args: Vec<&str> = if u.takes_value {
                vec![&flag, "x"]
            } else {
                vec![&flag]
            };
            let err = parse(&args).expect_err(u.flag).to_string();
            assert!(err.contains(&flag) && err.contains(u.why), "{err}");
        }
        parse(&[]).expect("no unsupported flag given");
    }

    #[test]
    fn resource_baton_ids_parse_as_the_sdk_writes_them() {
        let id = |t: &str, r: &str| ResourceId {
            resource_type: t.into(),
            resource: r.into(),
            ..ResourceId::default()
        };
        assert_eq!(
            parse_resource_bid("bid:r:group/admins"),
            Ok(id("group", "admins"))
        );
        assert_eq!(
            parse_resource_bid(r"bid:r:user_pool/us-east-1_A/user/us-east-1_A\:ann\/b\\c"),
            Ok(id("user", r"us-east-1_A:ann/b\c"))
        );
        for bad in [
            "group:admins",
            "bid:e:group/admins:member",
            "bid:r:group",
            "bid:r:group/",
            "bid:r:a/b/c",
            "bid:r:user/us-east-1_A:ann",
            r"bid:r:user/ann\",
        ] {
            assert!(parse_resource_bid(bad).is_err(), "{bad}");
        }
    }

    /// Every standard field names a flag of this program, once, with the SDK's name.
    #[test]
    fn standard_fields_are_flags_here() {
        let command = crate::cli::Cli::command();
        for (i, field) in STANDARD_FIELDS.iter().enumerate() {
            let arg = command
                .get_arguments()
                .find(|a| a.get_id() == field.id)
                .unwrap_or_else(|| panic!("{} is no flag", field.id));
            assert_eq!(arg.get_long(), Some(field.id.replace('_', "-").as_str()));
            assert!(
                STANDARD_FIELDS[..i].iter().all(|f| f.id != field.id),
                "{} twice",
                field.id
            );
        }
    }

    #[test]
    fn unsupported_flags_have_distinct_names_unlike_any_supported_flag() {
        let command = crate::cli::Cli::command();
        let supported: Vec<&str> = command
            .get_arguments()
            .filter_map(|a| a.get_long())
            .collect();
        for (i, u) in UNSUPPORTED.iter().enumerate() {
            assert!(!supported.contains(&u.flag), "{} is supported", u.flag);
            assert!(
                UNSUPPORTED[..i].iter().all(|v| v.flag != u.flag),
                "{} twice",
                u.flag
            );
        }
    }
}
