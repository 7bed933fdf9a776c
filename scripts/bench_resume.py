#!/usr/bin/env python3
"""A killed sync resumed (issue #21): run by scripts/bench-resume, which builds what this needs.

In the fast emulator, with a synthetic pool (1,000,000 users and 1,000 groups by default, 1.5
memberships per user), 50 ms a call and Cognito's quotas compressed as scripts/bench does
(`--quota-scale 3`, the connector told the same): a clean one-shot sync, then the same sync
killed (SIGKILL) at a share of the clean run's time (80% by default) and run again, which
resumes it. Reported: the calls of each run by operation, and the resumed run's calls against
the clean run's. Both files must hold the whole pool, record for record the same counts.
Standard library only; a Markdown table on stdout, the raw figures as JSON to --json.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scenarios import (  # noqa: E402
    ACCESS_KEY,
    LATENCY_MS,
    REPO,
    SECRET_KEY,
    connector_env,
    control,
    log,
    start_synthetic_fast_emulator,
)


def sync_command(args: argparse.Namespace, url: str, pool_id: str, out: Path) -> list[str]:
    return [args.connector, "--user-pool-id", pool_id, "--endpoint-url", url,
            "--aws-access-key-id", ACCESS_KEY, "--aws-secret-access-key", SECRET_KEY,
            "--api-budget", "1", "--quota-scale", str(args.quota_scale), "-f", str(out)]


def calls(url: str, pool_id: str) -> dict[str, int]:
    return control(url, "GET", f"/_emulator/calls?pool_id={pool_id}")


def run(command: list[str], kill_after: float | None = None) -> tuple[float, str]:
    """Runs a sync (killed with SIGKILL after `kill_after` seconds, if given): its wall time
    and its log."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as stderr:
        # Info: the resumed run says what it resumed and the calls that saves.
        env = dict(connector_env(), BATON_LOG_LEVEL="info")
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return time.monotonic() - started, ""
        stderr.seek(0)
        text = stderr.read().decode(errors="replace")
        if proc.returncode != 0:
            raise SystemExit(f"sync failed ({proc.returncode}): {text[-4000:]}")
        if kill_after is not None:
            raise SystemExit("the sync ended before it could be killed")
    return time.monotonic() - started, text


def counts(args: argparse.Namespace, out: Path) -> tuple[int, int, int]:
    stats = json.loads(subprocess.run([args.connector, "stats", "-f", str(out), "-o", "json"],
                                      check=True, capture_output=True, text=True).stdout)
    by_type = stats["resources_by_type"]
    return by_type.get("user", 0), by_type.get("group", 0), stats["grants"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connector", required=True)
    ap.add_argument("--fast-emulator", required=True)
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--groups", type=int, default=1_000)
    ap.add_argument("--quota-scale", type=float, default=3.0)
    ap.add_argument("--kill-at", type=float, default=0.8, help="share of the clean run's time")
    ap.add_argument("--json", default=str(REPO / "bench-resume.json"))
    args = ap.parse_args()
    proc, url, pool_id = start_synthetic_fast_emulator(
        args.fast_emulator, args.users, args.groups,
        ["--latency-ms", str(LATENCY_MS), "--quota-scale", str(args.quota_scale)])
    try:
        with tempfile.TemporaryDirectory(prefix="baton-cognito-resume.") as workdir:
            out = Path(workdir) / "pool.c1z"
            log(f"clean sync of {args.users:,} users")
            control(url, "DELETE", "/_emulator/calls")
            clean_s, _ = run(sync_command(args, url, pool_id, out))
            clean_calls = calls(url, pool_id)
            clean_counts = counts(args, out)
            out.unlink()
            kill_s = clean_s * args.kill_at
            log(f"clean: {clean_s:.0f} s; the same sync killed at {kill_s:.0f} s, then resumed")
            control(url, "DELETE", "/_emulator/calls")
            run(sync_command(args, url, pool_id, out), kill_after=kill_s)
            killed_calls = calls(url, pool_id)
            control(url, "DELETE", "/_emulator/calls")
            resumed_s, resumed_log = run(sync_command(args, url, pool_id, out))
            resumed_calls = calls(url, pool_id)
            resumed_counts = counts(args, out)
            if resumed_counts != clean_counts:
                raise SystemExit(f"resumed file {resumed_counts}, clean file {clean_counts}")
            line = next((json.loads(l) for l in resumed_log.splitlines()
                         if "resuming the sync" in l), None)
            if line is None:
                raise SystemExit("the second run did not resume")
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    total = lambda c: sum(c.values())  # noqa: E731
    result = {
        "users": args.users, "groups": args.groups, "quota_scale": args.quota_scale,
        "kill_at": args.kill_at, "counts": clean_counts,
        "clean": {"wall_s": clean_s, "calls": clean_calls},
        "killed": {"wall_s": kill_s, "calls": killed_calls},
        "resumed": {"wall_s": resumed_s, "calls": resumed_calls, "log": line},
        "resumed_share_of_calls": total(resumed_calls) / total(clean_calls),
    }
    Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    ops = sorted(set(clean_calls) | set(resumed_calls))
    rows = ["| Run | Wall (s) | " + " | ".join(ops) + " | All calls |",
            "|---|---|" + "---|" * len(ops) + "---|"]
    for name, wall, c in (("clean", clean_s, clean_calls), ("killed", kill_s, killed_calls),
                          ("resumed", resumed_s, resumed_calls)):
        rows.append(f"| {name} | {wall:.0f} | " + " | ".join(f"{c.get(op, 0):,}" for op in ops)
                    + f" | {total(c):,} |")
    print("\n".join(rows))
    print(f"\nresumed / clean calls: {result['resumed_share_of_calls']:.3f}; "
          f"the resumed run's log: calls_saved {line.get('calls_saved')}")
    log(f"raw results: {args.json}")


if __name__ == "__main__":
    main()
