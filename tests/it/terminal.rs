//! The one-shot sync as a person sees it in an 80-column terminal (a real pseudo-terminal):
//! one progress line updated in place, never wider than the terminal, with the time left; the
//! summary says how the forecast compared.

use std::process::Command;

use crate::support::*;
use serde_json::{Value, json};

/// Runs `args` on a pseudo-terminal 80 columns wide (set before the program starts); all it
/// wrote to the terminal, and whether it succeeded.
fn on_80_columns(env: &[(String, String)], args: &[&str]) -> (String, bool) {
    const HARNESS: &str = r#"
import fcntl, os, pty, struct, sys, termios
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let program = base_command(env);
    let mut harness = Command::new(python());
    harness.env_clear();
    for (key, value) in std::env::vars() {
        if !key.starts_with("BATON_") && !key.starts_with("AWS_") {
            harness.env(key, value);
        }
    }
    for (key, value) in program.get_envs() {
        match value {
            Some(value) => harness.env(key, value),
            None => harness.env_remove(key),
        };
    }
    let out = harness
        .args(["-c", HARNESS, BIN])
        .args(args)
        .output()
        .expect("run the pseudo-terminal harness");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.success(),
    )
}

/// What the terminal shows of `raw`, screen line by screen line: escape sequences taken out,
/// and each `\r` (back to the start of the line) starting a fresh rendering of it.
fn renderings(raw: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters, then a final byte in @..~.
            if chars.next_if_eq(&'[').is_some() {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        plain.push(c);
    }
    plain
        .split(['\r', '\n'])
        .filter(|line| !line.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn an_80_column_terminal_shows_one_progress_line_updating_in_place_with_the_time_left() {
    let emulator = Emulator::shared();
    let users: Vec<Value> = (0..900)
        .map(|i| json!({"username": format!("u{i:03}")}))
        .collect();
    let memberships: Vec<Value> = (0..900)
        .map(|i| json!(["all", format!("u{i:03}")]))
        .collect();
    let pool = emulator.create_pool(json!({
        "name": unique("terminal"),
        "users": users,
        "groups": [{"name": "all"}],
        "memberships": memberships,
    }));
    // Every call held 150 ms: some thirty pages take a few seconds, several progress ticks.
    emulator.inject(json!([{
        "operation": "*", "kind": "delay", "delay_ms": 150, "count": -1, "pool_id": pool.id,
    }]));
    let mut env = pool_env(emulator, &pool);
    env.push(("BATON_LOG_FORMAT".into(), "console".into()));
    env.push(("BATON_LOG_LEVEL".into(), "warn".into()));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sync.c1z");
    let (shown, ok) = on_80_columns(&env, &["-f", file.to_str().unwrap()]);
    emulator.clear_faults(&pool);
    assert!(ok, "{shown}");

    let lines = renderings(&shown);
    let progress: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains(" resources, "))
        .collect();
    let too_wide: Vec<&&String> = progress.iter().filter(|l| l.chars().count() > 80).collect();
    assert!(
        too_wide.is_empty(),
        "wider than the terminal: {too_wide:#?}"
    );
    assert!(
        progress.len() >= 3,
        "the progress line is redrawn as the sync goes: {lines:#?}"
    );
    assert!(
        progress
            .iter()
            .any(|l| l.contains("listing") && l.contains("left")),
        "the listing shows the time left: {progress:#?}"
    );
    // In place: redrawn over itself (carriage return), never pushed down a new line each time.
    let summary_at = shown.find("Synced user pool").expect("the summary");
    let drawn_at = shown.find(" resources, ").expect("a progress line");
    let during = &shown[drawn_at..summary_at];
    assert!(
        during.matches('\n').count() == 0,
        "the progress line scrolled: {during:?}"
    );
    assert!(
        during.matches('\r').count() >= 3,
        "redrawn in place: {during:?}"
    );
    let first = lines
        .iter()
        .find(|l| l.starts_with("Synced user pool"))
        .unwrap();
    assert!(
        first.contains("(forecast ") && (first.contains("% over)") || first.contains("% under)")),
        "the summary compares the forecast: {first}"
    );
}
