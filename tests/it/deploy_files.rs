//! The deployment files against the connector itself: what the Dockerfile and the Kubernetes
//! manifests under k8s/ say must be what the binary reads and serves.
//!
//! The manifests are checked as kustomize renders them (base and every overlay), obtained from
//! `scripts/check-deploy --render-json`, which renders with a pinned kustomize and converts the
//! YAML to JSON with its own virtualenv's PyYAML, so that this test needs no YAML parser and sees
//! exactly what `kubectl apply -k` would send. (Schema validation is check-deploy's job; this test
//! checks meaning.) The facts come from the binary's own definitions: the flags and their
//! `BATON_*` variables from the clap command, the probe paths from `service::health`, the binary's
//! name from Cargo.toml.
//!
//! Every check returns the problems it finds; the `fails_when_*` tests break a copy of the real
//! files in one place each and show that the check catches it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use baton_cognito::cli::Cli;
use baton_cognito::service::health::{LIVE_PATH, READY_PATH};
use clap::{Arg, ArgAction, CommandFactory};
use serde_json::{Value, json};

/// The keys of the upstream Cognito connector's documented Kubernetes secret.
const SECRET_KEYS: [&str; 7] = [
    "BATON_CLIENT_ID",
    "BATON_CLIENT_SECRET",
    "BATON_USER_POOL_ID",
    "BATON_REGION",
    "BATON_AWS_ACCESS_KEY_ID",
    "BATON_AWS_SECRET_ACCESS_KEY",
    "BATON_PROVISIONING",
];

/// Variables that would give a pod static AWS credentials.
const STATIC_AWS_KEYS: [&str; 3] = [
    "BATON_AWS_ACCESS_KEY_ID",
    "BATON_AWS_SECRET_ACCESS_KEY",
    "BATON_AWS_SESSION_TOKEN",
];

/// What `std::env::temp_dir()` gives on Unix when TMPDIR is unset, as in the image.
const DEFAULT_TEMP_DIR: &str = "/tmp";

/// The kustomizations there must be, by directory under k8s/.
const KUSTOMIZATIONS: [&str; 3] = ["base", "overlays/irsa", "cronjob"];

const IRSA_ANNOTATION: &str = "eks.amazonaws.com/role-arn";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------------------------
// What the connector says about itself.

struct Facts {
    /// Every argument with an environment variable, by that variable (subcommands' included).
    env_args: BTreeMap<String, Arg>,
    /// `--health-check-port`'s default.
    health_port_default: u16,
    /// The `[[bin]]` name in Cargo.toml.
    bin_name: String,
    crate_version: &'static str,
}

fn collect_env_args(cmd: &clap::Command, out: &mut BTreeMap<String, Arg>) {
    for arg in cmd.get_arguments() {
        if let Some(env) = arg.get_env() {
            out.entry(env.to_string_lossy().into_owned())
                .or_insert_with(|| arg.clone());
        }
    }
    for sub in cmd.get_subcommands() {
        collect_env_args(sub, out);
    }
}

fn facts() -> &'static Facts {
    static FACTS: OnceLock<Facts> = OnceLock::new();
    FACTS.get_or_init(|| {
        let mut cmd = Cli::command();
        // Building fills in the value parsers clap derives from the actions (bool flags).
        cmd.build();
        let mut env_args = BTreeMap::new();
        collect_env_args(&cmd, &mut env_args);
        let port_arg = env_args
            .get("BATON_HEALTH_CHECK_PORT")
            .expect("the CLI has a BATON_HEALTH_CHECK_PORT argument");
        let health_port_default = port_arg
            .get_default_values()
            .first()
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse().ok())
            .expect("--health-check-port has a numeric default");
        let cargo_toml = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
        Facts {
            env_args,
            health_port_default,
            bin_name: bin_name(&cargo_toml).expect("Cargo.toml has a [[bin]] with a name"),
            crate_version: env!("CARGO_PKG_VERSION"),
        }
    })
}

/// The name of the first `[[bin]]` target in a Cargo.toml.
fn bin_name(cargo_toml: &str) -> Option<String> {
    let mut in_bin = false;
    for line in cargo_toml.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(value) = line.strip_prefix("name") {
            let value = value.trim_start().strip_prefix('=')?.trim();
            return Some(value.trim_matches('"').to_string());
        }
    }
    None
}

/// Whether `value` is one the argument accepts, parsed by the argument's own value parser (the
/// one clap applies to the variable's value too).
fn accepts(arg: &Arg, value: &str) -> Result<(), String> {
    let mut probe = Arg::new("value")
        .long("value")
        .action(ArgAction::Set)
        .value_parser(arg.get_value_parser().clone());
    if let Some(delimiter) = arg.get_value_delimiter() {
        probe = probe.value_delimiter(delimiter).action(ArgAction::Append);
    }
    clap::Command::new("probe")
        .no_binary_name(true)
        .arg(probe)
        .try_get_matches_from([format!("--value={value}")])
        .map(|_| ())
        .map_err(|e| e.to_string().lines().next().unwrap_or_default().to_string())
}

// ---------------------------------------------------------------------------------------------
// The deployment files.

#[derive(Clone)]
struct Deploy {
    /// Rendered objects by kustomization directory under k8s/.
    rendered: BTreeMap<String, Vec<Value>>,
    dockerfile: String,
}

fn deploy() -> &'static Deploy {
    // Rendered once; a failure is kept and reported by every test rather than retried by each.
    static DEPLOY: OnceLock<Result<Deploy, String>> = OnceLock::new();
    let deploy = DEPLOY.get_or_init(|| {
        Ok(Deploy {
            rendered: render()?,
            dockerfile: std::fs::read_to_string(repo().join("Dockerfile"))
                .map_err(|e| format!("cannot read the Dockerfile: {e}"))?,
        })
    });
    match deploy {
        Ok(deploy) => deploy,
        Err(e) => panic!("{e}"),
    }
}

fn render() -> Result<BTreeMap<String, Vec<Value>>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out = dir.path().join("rendered.json");
    let output = Command::new("bash")
        .arg(repo().join("scripts/check-deploy"))
        .arg("--render-json")
        .arg(&out)
        .current_dir(repo())
        .output()
        .map_err(|e| format!("cannot run bash: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "scripts/check-deploy --render-json failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let json = std::fs::read_to_string(&out).map_err(|e| e.to_string())?;
    serde_json::from_str(&json).map_err(|e| format!("rendered JSON: {e}"))
}

/// The Dockerfile's stages, instructions joined across `\` continuations, comments dropped.
#[derive(Debug, Default)]
struct Stage {
    /// (INSTRUCTION, arguments)
    instructions: Vec<(String, String)>,
}

fn parse_dockerfile(text: &str) -> Vec<Stage> {
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                logical.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        logical.push(current);
    }
    let mut stages: Vec<Stage> = Vec::new();
    for line in logical {
        let (instruction, args) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
        let (instruction, args) = (instruction.to_ascii_uppercase(), args.trim().to_string());
        if instruction == "FROM" {
            stages.push(Stage::default());
        } else if let Some(stage) = stages.last_mut() {
            stage.instructions.push((instruction, args));
        }
    }
    stages
}

impl Stage {
    fn last(&self, instruction: &str) -> Option<&str> {
        self.instructions
            .iter()
            .rev()
            .find(|(i, _)| i == instruction)
            .map(|(_, a)| a.as_str())
    }
    fn all<'a>(&'a self, instruction: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.instructions
            .iter()
            .filter(move |(i, _)| i == instruction)
            .map(|(_, a)| a.as_str())
    }
}

/// The runtime stage's `USER` as numbers, or why it is not usable.
fn image_user(stages: &[Stage]) -> Result<(u32, Option<u32>), String> {
    let user = stages
        .last()
        .and_then(|s| s.last("USER"))
        .ok_or("the runtime stage sets no USER")?;
    let (uid, gid) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let uid: u32 = uid
        .parse()
        .map_err(|_| format!("USER {user} is not numeric (runAsNonRoot cannot verify a name)"))?;
    let gid = gid
        .map(|g| g.parse::<u32>())
        .transpose()
        .map_err(|_| format!("USER {user}: the group is not numeric"))?;
    if uid == 0 {
        return Err(format!("USER {user} is root"));
    }
    Ok((uid, gid))
}

// ---------------------------------------------------------------------------------------------
// Pods and what reaches their containers.

struct Pod<'a> {
    origin: String,
    kustomization: &'a str,
    kind: &'a str,
    workload: &'a Value,
    spec: &'a Value,
}

fn pods(rendered: &BTreeMap<String, Vec<Value>>) -> Vec<Pod<'_>> {
    let mut pods = Vec::new();
    for (kustomization, docs) in rendered {
        for doc in docs {
            let kind = doc["kind"].as_str().unwrap_or_default();
            let spec = match kind {
                "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
                    &doc["spec"]["template"]["spec"]
                }
                "CronJob" => &doc["spec"]["jobTemplate"]["spec"]["template"]["spec"],
                "Pod" => &doc["spec"],
                _ => continue,
            };
            pods.push(Pod {
                origin: format!(
                    "k8s/{kustomization}: {kind}/{}",
                    doc["metadata"]["name"].as_str().unwrap_or("?")
                ),
                kustomization,
                kind,
                workload: doc,
                spec,
            });
        }
    }
    pods
}

fn containers(spec: &Value) -> impl Iterator<Item = &Value> {
    ["initContainers", "containers"]
        .into_iter()
        .flat_map(|key| spec[key].as_array().into_iter().flatten())
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
}

/// A variable's value as the manifests give it.
#[derive(Clone, Debug, PartialEq)]
enum EnvValue {
    Literal(String),
    /// From the downward API: the field path.
    Field(String),
    /// Set, but not readable here (a Secret's base64 `data`, a resource field, ...).
    Opaque,
}

/// The entries a Secret or ConfigMap gives, by key.
fn entries(object: &Value) -> BTreeMap<String, EnvValue> {
    let mut out = BTreeMap::new();
    for key in ["data", "binaryData"] {
        for name in object[key]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            out.insert(name.clone(), EnvValue::Opaque);
        }
    }
    let literal = if object["kind"] == "Secret" {
        "stringData"
    } else {
        "data"
    };
    for (name, value) in object[literal].as_object().into_iter().flatten() {
        let value = value.as_str().map(str::to_string);
        out.insert(
            name.clone(),
            value.map(EnvValue::Literal).unwrap_or(EnvValue::Opaque),
        );
    }
    out
}

/// Every variable that reaches the container, with its value where the manifests tell it.
fn container_env(
    docs: &[Value],
    container: &Value,
    origin: &str,
    problems: &mut Vec<String>,
) -> BTreeMap<String, EnvValue> {
    let mut env = BTreeMap::new();
    for source in container["envFrom"].as_array().into_iter().flatten() {
        let prefix = source["prefix"].as_str().unwrap_or_default();
        for (key, kind) in [("secretRef", "Secret"), ("configMapRef", "ConfigMap")] {
            let reference = &source[key];
            if reference.is_null() {
                continue;
            }
            let name = reference["name"].as_str().unwrap_or_default();
            match find(docs, kind, name) {
                Some(object) => {
                    for (k, v) in entries(object) {
                        env.insert(format!("{prefix}{k}"), v);
                    }
                }
                None if reference["optional"] == true => {}
                None => problems.push(format!("{origin}: envFrom {kind} {name} is not rendered")),
            }
        }
    }
    for var in container["env"].as_array().into_iter().flatten() {
        let name = var["name"].as_str().unwrap_or_default().to_string();
        let from = &var["valueFrom"];
        let value = if let Some(value) = var["value"].as_str() {
            EnvValue::Literal(value.to_string())
        } else if let Some(path) = from["fieldRef"]["fieldPath"].as_str() {
            EnvValue::Field(path.to_string())
        } else if let Some((kind, reference)) = [
            ("Secret", &from["secretKeyRef"]),
            ("ConfigMap", &from["configMapKeyRef"]),
        ]
        .into_iter()
        .find(|(_, r)| !r.is_null())
        {
            let object_name = reference["name"].as_str().unwrap_or_default();
            let key = reference["key"].as_str().unwrap_or_default();
            match find(docs, kind, object_name).map(entries) {
                Some(found) if found.contains_key(key) => found[key].clone(),
                _ if reference["optional"] == true => continue,
                _ => {
                    problems.push(format!(
                        "{origin}: {name} refers to {kind} {object_name} key {key}, which is not rendered"
                    ));
                    EnvValue::Opaque
                }
            }
        } else if var.get("value").is_some() || from.is_null() {
            EnvValue::Literal(String::new())
        } else {
            EnvValue::Opaque
        };
        env.insert(name, value);
    }
    env
}

fn container_name(container: &Value) -> &str {
    container["name"].as_str().unwrap_or("?")
}

// ---------------------------------------------------------------------------------------------
// The checks. Each returns the problems it finds.

/// The expected kustomizations are all there and render something.
fn check_layout(d: &Deploy) -> Vec<String> {
    KUSTOMIZATIONS
        .iter()
        .filter(|k| d.rendered.get(**k).is_none_or(Vec::is_empty))
        .map(|k| format!("k8s/{k} is missing or renders nothing"))
        .collect()
}

/// Every variable a manifest sets is one the binary reads, with a value it accepts.
fn check_env(d: &Deploy, f: &Facts) -> Vec<String> {
    let mut problems = Vec::new();
    for pod in pods(&d.rendered) {
        let docs = &d.rendered[pod.kustomization];
        for container in containers(pod.spec) {
            let origin = format!("{} container {}", pod.origin, container_name(container));
            for (name, value) in container_env(docs, container, &origin, &mut problems) {
                let Some(arg) = f.env_args.get(&name) else {
                    problems.push(format!(
                        "{origin}: sets {name}, which the binary does not read"
                    ));
                    continue;
                };
                if let EnvValue::Literal(value) = value
                    && let Err(e) = accepts(arg, &value)
                {
                    problems.push(format!("{origin}: {name}={value:?} is refused: {e}"));
                }
            }
        }
    }
    problems
}

/// The base secret template has exactly the upstream connector's keys.
fn check_secret_template(d: &Deploy) -> Vec<String> {
    let docs = d
        .rendered
        .get("base")
        .map(Vec::as_slice)
        .unwrap_or_default();
    let secrets: Vec<&Value> = docs.iter().filter(|o| o["kind"] == "Secret").collect();
    let [secret] = secrets.as_slice() else {
        return vec![format!(
            "k8s/base renders {} secrets, expected one",
            secrets.len()
        )];
    };
    let keys: BTreeSet<String> = entries(secret).into_keys().collect();
    let expected: BTreeSet<String> = SECRET_KEYS.iter().map(|k| k.to_string()).collect();
    if keys == expected {
        return Vec::new();
    }
    vec![format!(
        "k8s/base: the secret's keys are {keys:?}; expected exactly {expected:?} (missing {:?}, extra {:?})",
        expected.difference(&keys).collect::<Vec<_>>(),
        keys.difference(&expected).collect::<Vec<_>>()
    )]
}

/// Deployments run service mode with the health endpoint where the probes look for it; CronJobs
/// run one-shot syncs into a persistent volume.
fn check_modes(d: &Deploy, f: &Facts) -> Vec<String> {
    let mut problems = Vec::new();
    let stages = parse_dockerfile(&d.dockerfile);
    let exposed: BTreeSet<u16> = stages
        .last()
        .map(|s| s.all("EXPOSE").collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .flat_map(str::split_whitespace)
        .filter_map(|p| p.trim_end_matches("/tcp").parse().ok())
        .collect();
    for pod in pods(&d.rendered) {
        let docs = &d.rendered[pod.kustomization];
        for container in pod.spec["containers"].as_array().into_iter().flatten() {
            let origin = format!("{} container {}", pod.origin, container_name(container));
            let env = container_env(docs, container, &origin, &mut Vec::new());
            let service_mode =
                env.contains_key("BATON_CLIENT_ID") && env.contains_key("BATON_CLIENT_SECRET");
            match pod.kind {
                "Deployment" => {
                    if !service_mode {
                        problems.push(format!(
                            "{origin}: gets no BATON_CLIENT_ID and BATON_CLIENT_SECRET: not service mode"
                        ));
                    }
                    check_service_container(&origin, container, &env, &exposed, f, &mut problems);
                    // The event journal's cursors must outlive the pod.
                    check_on_claim(
                        &pod,
                        &origin,
                        container,
                        &env,
                        docs,
                        "BATON_EVENT_FEED_DIR",
                        &mut problems,
                    );
                }
                "CronJob" | "Job" => {
                    if env.contains_key("BATON_CLIENT_ID")
                        || env.contains_key("BATON_CLIENT_SECRET")
                    {
                        problems.push(format!(
                            "{origin}: gets a ConductorOne client id or secret: that is service mode, not a one-shot sync"
                        ));
                    }
                    check_on_claim(
                        &pod,
                        &origin,
                        container,
                        &env,
                        docs,
                        "BATON_FILE",
                        &mut problems,
                    );
                }
                _ => {}
            }
        }
        if pod.kind == "CronJob" && pod.workload["spec"]["concurrencyPolicy"] != "Forbid" {
            problems.push(format!(
                "{}: concurrencyPolicy must be Forbid (two syncs would write one file)",
                pod.origin
            ));
        }
    }
    problems
}

fn check_service_container(
    origin: &str,
    container: &Value,
    env: &BTreeMap<String, EnvValue>,
    exposed: &BTreeSet<u16>,
    f: &Facts,
    problems: &mut Vec<String>,
) {
    let literal = |name: &str| match env.get(name) {
        Some(EnvValue::Literal(v)) => Some(v.as_str()),
        _ => None,
    };
    if literal("BATON_HEALTH_CHECK") != Some("true") {
        problems.push(format!(
            "{origin}: BATON_HEALTH_CHECK is not \"true\": nothing answers the probes"
        ));
    }
    match literal("BATON_HEALTH_CHECK_BIND_ADDRESS") {
        Some("0.0.0.0" | "::") => {}
        other => problems.push(format!(
            "{origin}: BATON_HEALTH_CHECK_BIND_ADDRESS is {other:?}: the kubelet cannot reach a loopback-only endpoint"
        )),
    }
    if env.get("BATON_HOST_ID") != Some(&EnvValue::Field("metadata.name".to_string())) {
        problems.push(format!(
            "{origin}: BATON_HOST_ID does not come from the pod name (fieldRef metadata.name)"
        ));
    }
    let port = match literal("BATON_HEALTH_CHECK_PORT") {
        Some(v) => match v.parse::<u16>() {
            Ok(p) => p,
            Err(_) => {
                problems.push(format!(
                    "{origin}: BATON_HEALTH_CHECK_PORT={v:?} is no port"
                ));
                return;
            }
        },
        None => f.health_port_default,
    };
    if !exposed.contains(&port) {
        problems.push(format!(
            "{origin}: the health port {port} is not what the Dockerfile EXPOSEs ({exposed:?})"
        ));
    }
    for (probe, path) in [("livenessProbe", LIVE_PATH), ("readinessProbe", READY_PATH)] {
        let get = &container[probe]["httpGet"];
        if get.is_null() {
            problems.push(format!("{origin}: no {probe} httpGet"));
            continue;
        }
        if get["path"] != path {
            problems.push(format!(
                "{origin}: {probe} asks for {}, the endpoint serves {path}",
                get["path"]
            ));
        }
        let probe_port = match &get["port"] {
            Value::Number(n) => n.as_u64(),
            Value::String(name) => container["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == name.as_str())
                .and_then(|p| p["containerPort"].as_u64()),
            _ => None,
        };
        if probe_port != Some(u64::from(port)) {
            problems.push(format!(
                "{origin}: {probe} goes to port {} ({probe_port:?}), the health endpoint listens on {port}",
                get["port"]
            ));
        }
    }
}

/// The path in `var` (a one-shot sync's BATON_FILE, the service's BATON_EVENT_FEED_DIR) is on a
/// writable persistent volume claim the kustomization renders.
fn check_on_claim(
    pod: &Pod,
    origin: &str,
    container: &Value,
    env: &BTreeMap<String, EnvValue>,
    docs: &[Value],
    var: &str,
    problems: &mut Vec<String>,
) {
    let Some(EnvValue::Literal(file)) = env.get(var) else {
        problems.push(format!(
            "{origin}: {var} is not set: it would be written into the working directory"
        ));
        return;
    };
    let mount = mounts(container)
        .filter(|(path, _, _)| Path::new(file).starts_with(path))
        .max_by_key(|(path, _, _)| path.len());
    let Some((_, volume, read_only)) = mount else {
        problems.push(format!("{origin}: {var}={file} is on no mounted volume"));
        return;
    };
    if read_only {
        problems.push(format!("{origin}: {var}={file} is on a read-only mount"));
    }
    let claim = volume_source(pod.spec, volume)["persistentVolumeClaim"]["claimName"]
        .as_str()
        .unwrap_or_default();
    if find(docs, "PersistentVolumeClaim", claim).is_none() {
        problems.push(format!(
            "{origin}: {var}={file} is not on a persistent volume claim that k8s/{} renders",
            pod.kustomization
        ));
    }
}

/// (mount path, volume name, read-only)
fn mounts(container: &Value) -> impl Iterator<Item = (&str, &str, bool)> {
    container["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                m["mountPath"].as_str().unwrap_or_default(),
                m["name"].as_str().unwrap_or_default(),
                m["readOnly"] == true,
            )
        })
}

fn volume_source<'a>(spec: &'a Value, name: &str) -> &'a Value {
    spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == name)
        .unwrap_or(&Value::Null)
}

/// The image's entrypoint is the binary, built from the locked sources, run as a numeric
/// non-root user.
fn check_dockerfile(d: &Deploy, f: &Facts) -> Vec<String> {
    let mut problems = Vec::new();
    let stages = parse_dockerfile(&d.dockerfile);
    let Some(runtime) = stages.last() else {
        return vec!["the Dockerfile has no FROM".to_string()];
    };
    if stages.len() < 2 {
        problems.push("the Dockerfile is not multi-stage".to_string());
    }
    match runtime.last("ENTRYPOINT") {
        None => problems.push("the runtime stage has no ENTRYPOINT".to_string()),
        Some(entrypoint) => match serde_json::from_str::<Vec<String>>(entrypoint) {
            Err(_) => problems.push(format!(
                "ENTRYPOINT {entrypoint} is not in exec form (a JSON array): it would need a shell"
            )),
            Ok(argv) => {
                let binary = argv.first().map(String::as_str).unwrap_or_default();
                let name = Path::new(binary).file_name().and_then(|n| n.to_str());
                if name != Some(f.bin_name.as_str()) || !binary.starts_with('/') {
                    problems.push(format!(
                        "ENTRYPOINT runs {binary:?}; expected an absolute path to the [[bin]] {}",
                        f.bin_name
                    ));
                }
                let copied = runtime.all("COPY").any(|args| {
                    args.starts_with("--from=") && args.split_whitespace().last() == Some(binary)
                });
                if !copied {
                    problems.push(format!(
                        "the runtime stage copies nothing from a build stage to {binary}"
                    ));
                }
            }
        },
    }
    let built = stages[..stages.len() - 1].iter().any(|s| {
        s.all("RUN").any(|run| {
            run.contains("cargo build --release --locked")
                && run.contains(&format!("target/release/{}", f.bin_name))
        })
    });
    if !built {
        problems.push(format!(
            "no build stage runs `cargo build --release --locked` and takes target/release/{}",
            f.bin_name
        ));
    }
    if let Err(e) = image_user(&stages) {
        problems.push(e);
    }
    let exposed: Vec<&str> = runtime.all("EXPOSE").collect();
    let port = f.health_port_default.to_string();
    if !exposed
        .iter()
        .flat_map(|e| e.split_whitespace())
        .any(|p| p.trim_end_matches("/tcp") == port)
    {
        problems.push(format!(
            "the runtime stage EXPOSEs {exposed:?}, not the health port {port}"
        ));
    }
    problems
}

/// Every pod runs as the image's user, non-root, unprivileged, on a read-only root with a
/// writable temporary directory.
fn check_security(d: &Deploy) -> Vec<String> {
    let mut problems = Vec::new();
    let image_user = image_user(&parse_dockerfile(&d.dockerfile)).ok();
    for pod in pods(&d.rendered) {
        let pod_sc = &pod.spec["securityContext"];
        for container in containers(pod.spec) {
            let origin = format!("{} container {}", pod.origin, container_name(container));
            let sc = &container["securityContext"];
            // A container's setting wins over the pod's.
            let effective = |key: &str| {
                if sc[key].is_null() {
                    &pod_sc[key]
                } else {
                    &sc[key]
                }
            };
            if effective("runAsNonRoot") != true {
                problems.push(format!("{origin}: runAsNonRoot is not true"));
            }
            let uid = effective("runAsUser").as_u64();
            let gid = effective("runAsGroup").as_u64();
            match (uid, image_user) {
                (None, _) => problems.push(format!("{origin}: runAsUser is not set")),
                (Some(0), _) => problems.push(format!("{origin}: runAsUser is 0 (root)")),
                (Some(uid), Some((image_uid, image_gid))) => {
                    if uid != u64::from(image_uid) {
                        problems.push(format!(
                            "{origin}: runAsUser {uid} is not the image's USER {image_uid}"
                        ));
                    }
                    if let (Some(gid), Some(image_gid)) = (gid, image_gid)
                        && gid != u64::from(image_gid)
                    {
                        problems.push(format!(
                            "{origin}: runAsGroup {gid} is not the image's group {image_gid}"
                        ));
                    }
                }
                (Some(_), None) => {}
            }
            if sc["allowPrivilegeEscalation"] != false {
                problems.push(format!("{origin}: allowPrivilegeEscalation is not false"));
            }
            if sc["privileged"] == true {
                problems.push(format!("{origin}: privileged"));
            }
            if sc["readOnlyRootFilesystem"] != true {
                problems.push(format!("{origin}: readOnlyRootFilesystem is not true"));
            }
            let drops_all = sc["capabilities"]["drop"]
                .as_array()
                .is_some_and(|d| d.contains(&json!("ALL")));
            if !drops_all
                || sc["capabilities"]["add"]
                    .as_array()
                    .is_some_and(|a| !a.is_empty())
            {
                problems.push(format!(
                    "{origin}: capabilities do not drop ALL (or add some back)"
                ));
            }
            if effective("seccompProfile")["type"] != "RuntimeDefault" {
                problems.push(format!("{origin}: seccompProfile is not RuntimeDefault"));
            }
            check_temp_dir(&pod, &origin, container, d, &mut problems);
        }
    }
    problems
}

/// With a read-only root, the temporary directory the binary uses (TMPDIR, else /tmp) must be a
/// writable volume.
fn check_temp_dir(
    pod: &Pod,
    origin: &str,
    container: &Value,
    d: &Deploy,
    problems: &mut Vec<String>,
) {
    let env = container_env(
        &d.rendered[pod.kustomization],
        container,
        origin,
        &mut Vec::new(),
    );
    let temp_dir = match env.get("TMPDIR") {
        Some(EnvValue::Literal(dir)) => dir.clone(),
        Some(_) => {
            problems.push(format!(
                "{origin}: TMPDIR is set to a value this test cannot read"
            ));
            return;
        }
        None => DEFAULT_TEMP_DIR.to_string(),
    };
    let writable = mounts(container).any(|(path, volume, read_only)| {
        let source = volume_source(pod.spec, volume);
        Path::new(path) == Path::new(&temp_dir)
            && !read_only
            && (source.get("emptyDir").is_some() || source.get("persistentVolumeClaim").is_some())
    });
    if !writable {
        problems.push(format!(
            "{origin}: the temporary directory {temp_dir} is no writable emptyDir or claim mount (the root is read-only)"
        ));
    }
}

/// In the IRSA overlay the pods run as a service account with an IAM role and get no static
/// AWS keys, which would take precedence over the role.
fn check_irsa(d: &Deploy) -> Vec<String> {
    let mut problems = Vec::new();
    let mut irsa_pods = 0;
    for pod in pods(&d.rendered) {
        let docs = &d.rendered[pod.kustomization];
        let account = pod.spec["serviceAccountName"].as_str().unwrap_or_default();
        let role = find(docs, "ServiceAccount", account)
            .and_then(|sa| sa["metadata"]["annotations"][IRSA_ANNOTATION].as_str());
        if pod.kustomization == "overlays/irsa" && role.is_none() {
            problems.push(format!(
                "{}: runs as service account {account:?}, which k8s/overlays/irsa does not render with an {IRSA_ANNOTATION} annotation",
                pod.origin
            ));
        }
        if role.is_none() {
            continue;
        }
        irsa_pods += 1;
        for container in containers(pod.spec) {
            let origin = format!("{} container {}", pod.origin, container_name(container));
            let env = container_env(docs, container, &origin, &mut Vec::new());
            for key in STATIC_AWS_KEYS.iter().filter(|k| env.contains_key(**k)) {
                problems.push(format!(
                    "{origin}: runs with an IAM role but gets {key}, static keys that override it"
                ));
            }
        }
    }
    if irsa_pods == 0 {
        problems.push("no pod runs with an IRSA service account".to_string());
    }
    problems
}

/// The kustomizations deploy the image of this version.
fn check_image(d: &Deploy, f: &Facts) -> Vec<String> {
    let mut problems = Vec::new();
    for pod in pods(&d.rendered) {
        for container in containers(pod.spec) {
            let image = container["image"].as_str().unwrap_or_default();
            let tag = image.rsplit_once(':').map(|(_, tag)| tag);
            if tag != Some(f.crate_version) {
                problems.push(format!(
                    "{} container {}: image {image:?} is not tagged {} (Cargo.toml's version)",
                    pod.origin,
                    container_name(container),
                    f.crate_version
                ));
            }
        }
    }
    problems
}

fn all_problems(d: &Deploy, f: &Facts) -> Vec<String> {
    [
        check_layout(d),
        check_env(d, f),
        check_secret_template(d),
        check_modes(d, f),
        check_dockerfile(d, f),
        check_security(d),
        check_irsa(d),
        check_image(d, f),
    ]
    .concat()
}

fn assert_none(problems: Vec<String>) {
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// The real files pass.

#[test]
fn the_kustomizations_render() {
    assert_none(check_layout(deploy()));
}

#[test]
fn every_variable_the_manifests_set_is_read_by_the_binary() {
    assert_none(check_env(deploy(), facts()));
}

#[test]
fn the_secret_template_has_the_upstream_keys() {
    assert_none(check_secret_template(deploy()));
}

#[test]
fn workloads_run_the_right_mode_with_probes_on_the_health_endpoint() {
    assert_none(check_modes(deploy(), facts()));
}

#[test]
fn the_dockerfile_builds_and_runs_the_binary() {
    assert_none(check_dockerfile(deploy(), facts()));
}

#[test]
fn pods_run_as_the_image_user_locked_down() {
    assert_none(check_security(deploy()));
}

#[test]
fn the_irsa_overlay_uses_the_role_and_no_static_keys() {
    assert_none(check_irsa(deploy()));
}

#[test]
fn the_image_tag_is_the_crate_version() {
    assert_none(check_image(deploy(), facts()));
}

/// Set in the child run of the test below, which prints what `temp_dir()` gives.
const TEMP_PROBE: &str = "BATON_DEPLOY_FILES_TEMP_PROBE";

#[test]
fn the_default_temp_dir_is_tmp() {
    // The constant the temp-dir check uses is what std gives without TMPDIR: this test runs
    // itself again with TMPDIR removed and reads the answer.
    if std::env::var_os(TEMP_PROBE).is_some() {
        println!("temp_dir={}", std::env::temp_dir().display());
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            "deploy_files::the_default_temp_dir_is_tmp",
            "--nocapture",
        ])
        .env_remove("TMPDIR")
        .env(TEMP_PROBE, "1")
        .output()
        .expect("run the test binary again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("temp_dir={DEFAULT_TEMP_DIR}\n")),
        "{stdout}"
    );
}

// ---------------------------------------------------------------------------------------------
// Each check catches what it is there for.

/// A copy of the real files with one change, and the problems the checks find in it.
fn broken(change: impl FnOnce(&mut Deploy)) -> Vec<String> {
    let mut d = deploy().clone();
    change(&mut d);
    all_problems(&d, facts())
}

fn assert_caught(problems: Vec<String>, expected: &str) {
    assert!(
        problems.iter().any(|p| p.contains(expected)),
        "expected a problem containing {expected:?}, got:\n{}",
        problems.join("\n")
    );
}

fn object<'a>(d: &'a mut Deploy, k: &str, kind: &str) -> &'a mut Value {
    d.rendered
        .get_mut(k)
        .unwrap()
        .iter_mut()
        .find(|o| o["kind"] == kind)
        .unwrap_or_else(|| panic!("k8s/{k} renders no {kind}"))
}

fn base_container(d: &mut Deploy) -> &mut Value {
    &mut object(d, "base", "Deployment")["spec"]["template"]["spec"]["containers"][0]
}

fn cron_pod(d: &mut Deploy) -> &mut Value {
    &mut object(d, "cronjob", "CronJob")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
}

fn set_env(container: &mut Value, name: &str, value: Value) {
    let env = container["env"].as_array_mut().unwrap();
    env.retain(|v| v["name"] != name);
    if !value.is_null() {
        env.push(json!({"name": name, "value": value}));
    }
}

#[test]
fn fails_when_a_kustomization_is_missing() {
    assert_caught(
        broken(|d| {
            d.rendered.remove("cronjob");
        }),
        "k8s/cronjob is missing",
    );
}

#[test]
fn fails_when_a_variable_is_unknown_or_its_value_refused() {
    assert_caught(
        broken(|d| set_env(base_container(d), "BATON_USER_POOL", json!("x"))),
        "sets BATON_USER_POOL, which the binary does not read",
    );
    assert_caught(
        broken(|d| {
            object(d, "base", "Secret")["stringData"]["BATON_POOL_REGION"] = json!("us-east-1");
        }),
        "sets BATON_POOL_REGION",
    );
    assert_caught(
        broken(|d| {
            object(d, "base", "Secret")["stringData"]["BATON_PROVISIONING"] = json!("yes");
        }),
        "BATON_PROVISIONING=\"yes\" is refused",
    );
    assert_caught(
        broken(|d| set_env(base_container(d), "BATON_LOG_FORMAT", json!("text"))),
        "BATON_LOG_FORMAT=\"text\" is refused",
    );
    assert_caught(
        broken(|d| set_env(base_container(d), "BATON_TASK_CONCURRENCY", json!("0"))),
        "BATON_TASK_CONCURRENCY=\"0\" is refused",
    );
    assert_caught(
        broken(|d| {
            base_container(d)["envFrom"][0]["secretRef"]["name"] = json!("elsewhere");
        }),
        "envFrom Secret elsewhere is not rendered",
    );
}

#[test]
fn accepts_what_the_binary_accepts() {
    let f = facts();
    let arg = |name: &str| &f.env_args[name];
    assert!(accepts(arg("BATON_PROVISIONING"), "true").is_ok());
    assert!(accepts(arg("BATON_PROVISIONING"), "false").is_ok());
    assert!(accepts(arg("BATON_PROVISIONING"), "1").is_err());
    assert!(accepts(arg("BATON_HEALTH_CHECK_PORT"), "8081").is_ok());
    assert!(accepts(arg("BATON_HEALTH_CHECK_PORT"), "70000").is_err());
    assert!(accepts(arg("BATON_HEALTH_CHECK_BIND_ADDRESS"), "0.0.0.0").is_ok());
    assert!(accepts(arg("BATON_HEALTH_CHECK_BIND_ADDRESS"), "all").is_err());
    assert!(accepts(arg("BATON_CATEGORY_BUDGET"), "user-list=0.2,user-read=0.1").is_ok());
}

#[test]
fn fails_when_the_secret_template_keys_differ() {
    assert_caught(
        broken(|d| {
            let secret = object(d, "base", "Secret");
            secret["stringData"]
                .as_object_mut()
                .unwrap()
                .remove("BATON_REGION");
        }),
        "missing [\"BATON_REGION\"]",
    );
    assert_caught(
        broken(|d| {
            object(d, "base", "Secret")["stringData"]["BATON_LOG_LEVEL"] = json!("debug");
        }),
        "extra [\"BATON_LOG_LEVEL\"]",
    );
}

#[test]
fn fails_when_the_probes_miss_the_health_endpoint() {
    assert_caught(
        broken(|d| base_container(d)["livenessProbe"]["httpGet"]["path"] = json!("/healthz")),
        "livenessProbe asks for \"/healthz\"",
    );
    assert_caught(
        broken(|d| base_container(d)["readinessProbe"]["httpGet"]["path"] = json!(LIVE_PATH)),
        "readinessProbe asks for \"/live\"",
    );
    assert_caught(
        broken(|d| base_container(d)["readinessProbe"]["httpGet"]["port"] = json!(8080)),
        "readinessProbe goes to port 8080",
    );
    assert_caught(
        broken(|d| base_container(d)["ports"][0]["containerPort"] = json!(9000)),
        "livenessProbe goes to port \"health\" (Some(9000))",
    );
    // The port moved by the variable, the probes not.
    assert_caught(
        broken(|d| set_env(base_container(d), "BATON_HEALTH_CHECK_PORT", json!("9000"))),
        "the health endpoint listens on 9000",
    );
    // Without the variable, the default applies.
    let problems = broken(|d| set_env(base_container(d), "BATON_HEALTH_CHECK_PORT", Value::Null));
    assert!(
        !problems
            .iter()
            .any(|p| p.contains("health endpoint listens")),
        "{problems:?}"
    );
    assert_caught(
        broken(|d| set_env(base_container(d), "BATON_HEALTH_CHECK", Value::Null)),
        "BATON_HEALTH_CHECK is not \"true\"",
    );
    assert_caught(
        broken(|d| {
            set_env(
                base_container(d),
                "BATON_HEALTH_CHECK_BIND_ADDRESS",
                json!("127.0.0.1"),
            )
        }),
        "BATON_HEALTH_CHECK_BIND_ADDRESS is Some(\"127.0.0.1\")",
    );
    assert_caught(
        broken(|d| set_env(base_container(d), "BATON_HOST_ID", json!("worker"))),
        "BATON_HOST_ID does not come from the pod name",
    );
}

#[test]
fn fails_when_the_deployment_is_not_service_mode_or_the_cronjob_is() {
    assert_caught(
        broken(|d| {
            let secret = object(d, "base", "Secret");
            secret["stringData"]
                .as_object_mut()
                .unwrap()
                .remove("BATON_CLIENT_SECRET");
        }),
        "not service mode",
    );
    assert_caught(
        broken(|d| {
            object(d, "cronjob", "Secret")["stringData"]["BATON_CLIENT_ID"] = json!("x");
        }),
        "that is service mode, not a one-shot sync",
    );
    assert_caught(
        broken(|d| {
            object(d, "cronjob", "CronJob")["spec"]["concurrencyPolicy"] = json!("Allow");
        }),
        "concurrencyPolicy must be Forbid",
    );
}

#[test]
fn fails_when_the_sync_file_is_not_on_the_claim() {
    assert_caught(
        broken(|d| set_env(&mut cron_pod(d)["containers"][0], "BATON_FILE", Value::Null)),
        "BATON_FILE is not set",
    );
    assert_caught(
        broken(|d| {
            set_env(
                &mut cron_pod(d)["containers"][0],
                "BATON_FILE",
                json!("/var/sync.c1z"),
            )
        }),
        "BATON_FILE=/var/sync.c1z is on no mounted volume",
    );
    assert_caught(
        broken(|d| {
            set_env(
                &mut cron_pod(d)["containers"][0],
                "BATON_FILE",
                json!("/tmp/sync.c1z"),
            )
        }),
        "is not on a persistent volume claim",
    );
    assert_caught(
        broken(|d| {
            d.rendered
                .get_mut("cronjob")
                .unwrap()
                .retain(|o| o["kind"] != "PersistentVolumeClaim");
        }),
        "is not on a persistent volume claim",
    );
}

#[test]
fn fails_when_the_event_journal_is_not_on_a_claim() {
    assert_caught(
        broken(|d| set_env(base_container(d), "BATON_EVENT_FEED_DIR", Value::Null)),
        "BATON_EVENT_FEED_DIR is not set",
    );
    assert_caught(
        broken(|d| {
            set_env(
                base_container(d),
                "BATON_EVENT_FEED_DIR",
                json!("/tmp/events"),
            )
        }),
        "BATON_EVENT_FEED_DIR=/tmp/events is not on a persistent volume claim",
    );
    assert_caught(
        broken(|d| {
            d.rendered
                .get_mut("base")
                .unwrap()
                .retain(|o| o["kind"] != "PersistentVolumeClaim");
        }),
        "BATON_EVENT_FEED_DIR=/var/lib/baton-cognito/events is not on a persistent volume claim",
    );
}

#[test]
fn fails_when_the_dockerfile_disagrees() {
    let with = |from: &str, to: &str| {
        broken(|d| {
            assert!(
                d.dockerfile.contains(from),
                "the Dockerfile has no {from:?}"
            );
            d.dockerfile = d.dockerfile.replace(from, to);
        })
    };
    assert_caught(
        with(
            "ENTRYPOINT [\"/usr/local/bin/baton-cognito\"]",
            "ENTRYPOINT /usr/local/bin/baton-cognito",
        ),
        "not in exec form",
    );
    assert_caught(
        with(
            "ENTRYPOINT [\"/usr/local/bin/baton-cognito\"]",
            "ENTRYPOINT [\"/usr/local/bin/cognito\"]",
        ),
        "ENTRYPOINT runs \"/usr/local/bin/cognito\"",
    );
    assert_caught(
        with("EXPOSE 8081", "EXPOSE 8080"),
        "not the health port 8081",
    );
    assert_caught(
        with("EXPOSE 8081", "EXPOSE 8080"),
        "is not what the Dockerfile EXPOSEs",
    );
    assert_caught(with("USER 65532:65532", "USER nonroot"), "is not numeric");
    assert_caught(with("USER 65532:65532", "USER 0"), "is root");
    assert_caught(
        with("USER 65532:65532", "USER 1000:1000"),
        "runAsUser 65532 is not the image's USER 1000",
    );
    assert_caught(
        with("cargo build --release --locked", "cargo build --release"),
        "cargo build --release --locked",
    );
    assert_caught(
        with("COPY --from=build", "COPY"),
        "copies nothing from a build stage",
    );
}

#[test]
fn fails_when_a_pod_is_not_locked_down() {
    fn sc(d: &mut Deploy) -> &mut Value {
        &mut base_container(d)["securityContext"]
    }
    assert_caught(
        broken(|d| sc(d)["allowPrivilegeEscalation"] = json!(true)),
        "allowPrivilegeEscalation is not false",
    );
    assert_caught(
        broken(|d| sc(d)["readOnlyRootFilesystem"] = json!(false)),
        "readOnlyRootFilesystem is not true",
    );
    assert_caught(
        broken(|d| sc(d)["capabilities"]["drop"] = json!(["NET_RAW"])),
        "capabilities do not drop ALL",
    );
    assert_caught(
        broken(|d| sc(d)["runAsNonRoot"] = json!(false)),
        "runAsNonRoot is not true",
    );
    assert_caught(
        broken(|d| sc(d)["runAsUser"] = json!(1000)),
        "runAsUser 1000 is not the image's USER 65532",
    );
    assert_caught(
        broken(|d| {
            cron_pod(d)["securityContext"]["seccompProfile"]["type"] = json!("Unconfined");
        }),
        "seccompProfile is not RuntimeDefault",
    );
}

#[test]
fn fails_when_the_temp_dir_is_not_writable() {
    assert_caught(
        broken(|d| {
            base_container(d)["volumeMounts"]
                .as_array_mut()
                .unwrap()
                .retain(|m| m["mountPath"] != DEFAULT_TEMP_DIR);
        }),
        "the temporary directory /tmp is no writable emptyDir",
    );
    assert_caught(
        broken(|d| set_env(base_container(d), "TMPDIR", json!("/scratch"))),
        "the temporary directory /scratch is no writable",
    );
    // TMPDIR pointing at the mount is fine as far as the temp dir goes (TMPDIR itself is not a
    // BATON_ variable, which the env check reports).
    let problems = broken(|d| {
        let c = base_container(d);
        set_env(c, "TMPDIR", json!("/scratch"));
        c["volumeMounts"][0]["mountPath"] = json!("/scratch");
    });
    assert!(
        !problems.iter().any(|p| p.contains("temporary directory")),
        "{problems:?}"
    );
}

#[test]
fn fails_when_the_irsa_overlay_keeps_static_keys_or_loses_the_role() {
    assert_caught(
        broken(|d| {
            object(d, "overlays/irsa", "Secret")["stringData"]["BATON_AWS_ACCESS_KEY_ID"] =
                json!("AKIA");
        }),
        "gets BATON_AWS_ACCESS_KEY_ID, static keys that override it",
    );
    assert_caught(
        broken(|d| {
            object(d, "overlays/irsa", "ServiceAccount")["metadata"]["annotations"] = json!({});
        }),
        "does not render with an eks.amazonaws.com/role-arn annotation",
    );
    assert_caught(
        broken(|d| {
            object(d, "overlays/irsa", "Deployment")["spec"]["template"]["spec"]
                .as_object_mut()
                .unwrap()
                .remove("serviceAccountName");
        }),
        "no pod runs with an IRSA service account",
    );
}

#[test]
fn fails_when_the_image_tag_is_not_the_crate_version() {
    assert_caught(
        broken(|d| base_container(d)["image"] = json!("ghcr.io/example/baton-cognito:latest")),
        "is not tagged",
    );
}

#[test]
fn reads_the_bin_name_and_dockerfile_instructions() {
    assert_eq!(
        bin_name("[package]\nname = \"x\"\n\n[[bin]]\nname = \"y\"\npath = \"src/main.rs\"\n")
            .as_deref(),
        Some("y")
    );
    assert_eq!(bin_name("[package]\nname = \"x\"\n"), None);
    let stages = parse_dockerfile(
        "# c\nFROM a AS b\nRUN x \\\n    && y\nFROM c\n# ENTRYPOINT [\"no\"]\nUSER 1:2\nEXPOSE 80 81/tcp\n",
    );
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0].last("RUN"), Some("x  && y"));
    assert_eq!(stages[1].last("ENTRYPOINT"), None);
    assert_eq!(image_user(&stages), Ok((1, Some(2))));
}
