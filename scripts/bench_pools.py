#!/usr/bin/env python3
"""Many pools, one quota (issue #20): run by scripts/bench-pools, which builds what this needs.

In one moto emulator that enforces Cognito's quotas per Region and category (as AWS does per
account and Region) and answers each call after 50 ms:

1. shared: three pools of one account synced by ONE process at --api-budget 0.5, against the
   same three synced by THREE single-pool processes started together at the same budget. From
   the emulator's request log: the calls each quota category received in each second (the
   highest second against half the quota), and the calls the quota refused;
2. regions: two pools in different Regions, each synced alone, then both by one process: the
   pair's wall time against the slower one alone (within 10% is the target).

Every sync is checked against the pools (users, groups, memberships) before it counts. Standard
library only; the Markdown table goes to stdout, the raw figures as JSON to --json.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scenarios import (  # noqa: E402
    ACCESS_KEY,
    LATENCY_MS,
    REPO,
    SECRET_KEY,
    Scenario,
    connector_env,
    control,
    log,
    seed_request,
)

# Cognito's default requests per second per category (the emulator's table).
QUOTA = {"UserList": 30.0, "UserRead": 120.0, "UserResourceRead": 50.0,
         "UserPoolResourceRead": 20.0, "UserPoolRead": 15.0}
CATEGORY = {
    "ListUsers": "UserList", "ListUsersInGroup": "UserList", "AdminGetUser": "UserRead",
    "AdminListGroupsForUser": "UserResourceRead", "AdminListUserAuthEvents": "UserResourceRead",
    "ListGroups": "UserPoolResourceRead", "GetGroup": "UserPoolResourceRead",
    "DescribeUserPool": "UserPoolRead",
}
BUDGET = 0.5


class Moto:
    """The quota-enforcing moto emulator; it exits when its stdin closes."""

    def __init__(self, python: str):
        cmd = [python, str(REPO / "tests/emulator/cognito_emulator.py"), "--port", "0",
               "--latency-ms", str(LATENCY_MS), "--quota-scale", "1"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline().split()
        if first[:1] != ["LISTENING"]:
            raise SystemExit(f"the emulator did not start: {cmd}")
        self.url = first[1]

    def control(self, method: str, path: str, body: dict | None = None) -> dict:
        return control(self.url, method, path, body)

    def seed(self, name: str, users: int, groups: int, region: str) -> dict:
        request = seed_request(Scenario(name, "moto", users, groups, synthetic=False))
        request["region"] = region
        created = self.control("POST", "/_emulator/pools", request)
        summary = self.control("GET", f"/_emulator/pools/{created['pool_id']}")
        return {"id": created["pool_id"], "users": summary["users"],
                "groups": len(summary["group_sizes"]),
                "memberships": sum(summary["group_sizes"].values())}

    def clear_log(self) -> None:
        self.control("DELETE", "/_emulator/requests")
        self.control("DELETE", "/_emulator/calls")

    def requests(self) -> list[dict]:
        return self.control("GET", "/_emulator/requests")["requests"]

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def sync_command(args: argparse.Namespace, moto: Moto, pool_ids: list[str], out: Path) -> list[str]:
    return [args.connector, "--user-pool-id", ",".join(pool_ids), "--endpoint-url", moto.url,
            "--aws-access-key-id", ACCESS_KEY, "--aws-secret-access-key", SECRET_KEY,
            "--api-budget", str(BUDGET), "-f", str(out)]


def run_together(commands: list[list[str]]) -> float:
    """Starts the commands at once; the wall time until the last one ends."""
    started = time.monotonic()
    procs = [subprocess.Popen(c, env=connector_env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True) for c in commands]
    for proc, command in zip(procs, commands):
        _, stderr = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"sync failed ({proc.returncode}): {' '.join(command)}\n{stderr[-4000:]}")
    return time.monotonic() - started


def check(args: argparse.Namespace, out: Path, pools: list[dict]) -> None:
    """The file must hold every pool whole."""
    stats = json.loads(subprocess.run([args.connector, "stats", "-f", str(out), "-o", "json"],
                                      check=True, capture_output=True, text=True).stdout)
    by_type = stats["resources_by_type"]
    got = (by_type.get("user", 0), by_type.get("group", 0), stats["grants"])
    want = (sum(p["users"] for p in pools), sum(p["groups"] for p in pools),
            sum(p["memberships"] for p in pools))
    if got != want:
        raise SystemExit(f"{out}: (users, groups, grants) = {got}, the pools have {want}")


def per_second(requests: list[dict]) -> dict:
    """Calls per category in each whole second (by arrival), the busiest second of each, and
    the calls the quota refused."""
    counts: dict[str, Counter] = {}
    refused = Counter()
    for r in requests:
        category = CATEGORY.get(r["operation"])
        if category is None:
            continue
        counts.setdefault(category, Counter())[math.floor(r["t"])] += 1
        if r.get("throttled"):
            refused[category] += 1
    return {
        category: {
            "quota": QUOTA[category],
            "budget": QUOTA[category] * BUDGET,
            "busiest_second": max(seconds.values()),
            "seconds_over_budget": sum(1 for n in seconds.values() if n > QUOTA[category] * BUDGET),
            "seconds": len(seconds),
            "calls": sum(seconds.values()),
            "throttled": refused[category],
        }
        for category, seconds in sorted(counts.items())
    }


def shared_budget(args: argparse.Namespace, moto: Moto, workdir: Path) -> dict:
    pools = [moto.seed(f"shared-{n}", args.users, args.groups, "us-east-1") for n in "abc"]
    ids = [p["id"] for p in pools]
    results = {"pools": pools}
    log(f"one process, three pools ({args.users} users each) at --api-budget {BUDGET}")
    moto.clear_log()
    out = workdir / "one-process.c1z"
    wall = run_together([sync_command(args, moto, ids, out)])
    check(args, out, pools)
    results["one_process"] = {"wall_s": wall, "categories": per_second(moto.requests())}
    log(f"three processes, one pool each, at --api-budget {BUDGET}")
    moto.clear_log()
    outs = [workdir / f"process-{n}.c1z" for n in range(3)]
    wall = run_together([sync_command(args, moto, [i], o) for i, o in zip(ids, outs)])
    for out, pool in zip(outs, pools):
        check(args, out, [pool])
    results["three_processes"] = {"wall_s": wall, "categories": per_second(moto.requests())}
    return results


def regions(args: argparse.Namespace, moto: Moto, workdir: Path) -> dict:
    east = moto.seed("region-east", args.users, args.groups, "us-east-1")
    west = moto.seed("region-west", args.users, args.groups, "eu-west-1")
    alone = {}
    for pool in (east, west):
        log(f"{pool['id']} alone")
        out = workdir / f"{pool['id']}.c1z"
        alone[pool["id"]] = run_together([sync_command(args, moto, [pool["id"]], out)])
        check(args, out, [pool])
    log("both Regions in one process")
    out = workdir / "regions.c1z"
    together = run_together([sync_command(args, moto, [east["id"], west["id"]], out)])
    check(args, out, [east, west])
    slower = max(alone.values())
    return {"alone_s": alone, "together_s": together, "slower_alone_s": slower,
            "ratio": together / slower}


def table(shared: dict, region: dict) -> str:
    rows = ["| Run | Wall (s) | Category | Calls | Busiest second | Budget (half the quota) | "
            "Seconds over budget | Throttled |", "|---|---|---|---|---|---|---|---|"]
    for key, label in (("one_process", "one process, 3 pools"),
                       ("three_processes", "3 processes, 1 pool each")):
        run = shared[key]
        for category, c in run["categories"].items():
            rows.append(f"| {label} | {run['wall_s']:.1f} | {category} | {c['calls']} | "
                        f"{c['busiest_second']} | {c['budget']:g} | {c['seconds_over_budget']} of "
                        f"{c['seconds']} | {c['throttled']} |")
    east, west = region["alone_s"].values()
    rows += ["", "| Two Regions | Wall (s) |", "|---|---|",
             f"| first alone | {east:.1f} |", f"| second alone | {west:.1f} |",
             f"| both, one process | {region['together_s']:.1f} "
             f"({region['ratio']:.2f}x the slower alone) |"]
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connector", required=True)
    ap.add_argument("--moto-python", required=True)
    ap.add_argument("--users", type=int, default=2000, help="users per pool (default 2000)")
    ap.add_argument("--groups", type=int, default=10, help="groups per pool (default 10)")
    ap.add_argument("--json", default=str(REPO / "bench-pools.json"))
    args = ap.parse_args()
    moto = Moto(args.moto_python)
    try:
        with tempfile.TemporaryDirectory(prefix="baton-cognito-pools.") as workdir:
            shared = shared_budget(args, moto, Path(workdir))
            region = regions(args, moto, Path(workdir))
    finally:
        moto.close()
    results = {"users_per_pool": args.users, "groups_per_pool": args.groups, "budget": BUDGET,
               "shared": shared, "regions": region}
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(table(shared, region))
    log(f"raw results: {args.json}")


if __name__ == "__main__":
    main()
