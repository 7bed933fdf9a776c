#!/usr/bin/env python3
"""The scenarios of scripts/bench (run that, which installs and builds what this needs).

For each pool shape, in emulators started here:

1. paced: 50 ms per call and Cognito's default quotas (times a documented scale where the full
   run would take too long), the connector at `--api-budget 1`: its Cognito calls per operation
   against the minimum, and its wall time against the quota floor (the busiest quota category's
   minimum calls divided by that category's rate);
2. the AWS CLI listing the same pool in the same emulator (list-users, list-groups, then
   list-users-in-group per group, each with the CLI's own pagination), as the baseline;
3. the Baton SDK's own syncer (conformance/cmd/sdk-sync, with the SDK's defaults) driving
   `baton-cognito serve` in the same paced emulator at the same budget: what a platform built on
   the upstream architecture gets, beside the one-shot engine;
4. unpaced: no latency, no quota, the connector with `--quota-scale unlimited`: the connector's
   own speed, peak RSS and output size.

Every sync is checked against the pool (users, groups, memberships) before it counts. Standard
library only. Results go to stdout as a Markdown table, and as JSON to --json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
LATENCY_MS = 50
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "bench-not-a-secret"
PAGE = 60

# Cognito's default requests per second per category, and the per-pool cap on ListGroups.
RATES = {"UserList": 30.0, "UserResourceRead": 50.0, "UserPoolRead": 15.0}
LIST_GROUPS_PER_POOL = 5.0
CATEGORY = {
    "ListUsers": "UserList",
    "ListUsersInGroup": "UserList",
    "AdminListGroupsForUser": "UserResourceRead",
    "AdminListUserAuthEvents": "UserResourceRead",
    "DescribeUserPool": "UserPoolRead",
    "ListGroups": "ListGroups",
}


@dataclass
class Scenario:
    name: str
    emulator: str  # "moto" or "fast"
    users: int
    groups: int
    # A synthetic pool of the fast emulator, or one seeded through the control API.
    synthetic: bool
    # Quotas of the paced run, as a multiple of AWS's defaults (the floor scales with it).
    quota_scale: float = 1.0
    about: str = ""
    # Whether the SDK's syncer runs too (see run_sdk_syncer).
    sdk_syncer: bool = True
    # Whether the paced sync also runs with --user-slicing never and always, beside auto.
    compare_slicing: bool = False
    # A Plus pool with threat protection and one sign-in per user: each user's last login is
    # read (one AdminListUserAuthEvents call per user), and the paced sync runs again with
    # --last-login off beside it. The AWS CLI baseline reads no sign-ins, so it is not run.
    plus: bool = False


SCENARIOS = [
    Scenario("moto-2k", "moto", 2_000, 10, synthetic=False, sdk_syncer=False,
             compare_slicing=True,
             about="moto; 1.5 memberships per user spread over 10 groups; slicing compared"),
    Scenario("moto-10k", "moto", 10_000, 50, synthetic=False, compare_slicing=True,
             about="moto; 1.5 memberships per user spread over 50 groups; slicing compared"),
    Scenario("moto-last-login", "moto", 2_000, 10, synthetic=False, sdk_syncer=False, plus=True,
             compare_slicing=True,
             about="moto; a Plus pool with threat protection, one sign-in per user: last login "
                   "read per user; slicing compared, and the same sync with --last-login off"),
    # 100,000 history reads at 10x AWS's quota (500 a second) take 200 s at least.
    Scenario("fast-100k-last-login", "fast", 100_000, 200, synthetic=True, plus=True,
             quota_scale=10.0, sdk_syncer=False,
             about="fast emulator; synthetic Plus pool with threat protection and a sign-in "
                   "history per user; paced run at 10x AWS's quotas (the floor is scaled alike)"),
    Scenario("fast-100k", "fast", 100_000, 200, synthetic=True,
             about="fast emulator; synthetic pool, 1.5 memberships per user, Zipf group sizes"),
    # At 1x the paced run takes 23 minutes. Compressing time further than 3x would put the
    # floor (468 s) under the longest chain of pages: all-staff's 6,250 pages, one after another,
    # take at least 6,250 x 50 ms = 313 s whatever the quota.
    # The SDK's syncer reads one page at a time, so its run here would take about 35 minutes
    # (42,158 pages at 50 ms): it is measured on the smaller shapes.
    Scenario("fast-1m", "fast", 1_000_000, 1_000, synthetic=True, quota_scale=3.0,
             about="fast emulator; synthetic pool; paced run at 3x AWS's quotas (the floor is "
                   "scaled alike)", sdk_syncer=False),
    Scenario("many-groups", "fast", 300, 3_000, synthetic=False,
             about="fast emulator; 3,000 groups, 300 users: memberships read per user"),
]


# --------------------------------------------------------------------------- pools


def seeded_memberships(users: int, groups: int) -> list[tuple[int, int]]:
    """1.5 memberships per user, deterministic: every user in one group, every other user in a
    second one."""
    pairs = []
    for u in range(users):
        first = (u * 31) % groups
        pairs.append((first, u))
        if u % 2 == 0:
            second = (u * 17 + 5) % groups
            if second == first:
                second = (second + 1) % groups
            pairs.append((second, u))
    return pairs


def seed_request(scenario: Scenario) -> dict:
    users = [
        {
            "username": f"user{u:07d}",
            "attributes": {
                "email": f"user{u}@example.com",
                "given_name": f"Given{u}",
                "family_name": f"Family{u % 977}",
                "custom:department": f"dept-{u % 23}",
            },
            "enabled": u % 20 != 0,
        }
        for u in range(scenario.users)
    ]
    groups = [{"name": f"group-{g:05d}", "description": f"Group {g}"} for g in range(scenario.groups)]
    memberships = [[f"group-{g:05d}", f"user{u:07d}"]
                   for g, u in seeded_memberships(scenario.users, scenario.groups)]
    request = {"region": REGION, "name": f"bench-{scenario.name}", "users": users, "groups": groups,
               "memberships": memberships}
    if scenario.plus:
        request["config"] = {"UserPoolTier": "PLUS",
                             "UserPoolAddOns": {"AdvancedSecurityMode": "AUDIT"}}
    return request


def sign_ins(scenario: Scenario) -> list[dict]:
    """One successful sign-in per user, an hour apart from the next user's."""
    return [{"username": f"user{u:07d}", "at": 1_740_823_200 + 3600 * u}
            for u in range(scenario.users)]


@dataclass
class PoolShape:
    pool_id: str
    users: int
    group_sizes: dict[str, int]
    # Groups per user, known for seeded pools (needed for the per-user minimum).
    groups_per_user: list[int] | None
    # Whether each user's last login is read (a Plus pool with threat protection).
    last_login: bool = False

    @property
    def memberships(self) -> int:
        return sum(self.group_sizes.values())

    def minimum_calls(self) -> dict[str, int]:
        """The fewest calls a full sync can make (issue #5, deliverable 1)."""
        pages = lambda n: max(1, math.ceil(n / PAGE))  # noqa: E731
        calls = {
            "DescribeUserPool": 1,
            "ListUsers": pages(self.users),
            "ListGroups": pages(len(self.group_sizes)),
        }
        if self.users < len(self.group_sizes):
            if self.groups_per_user is None:
                raise SystemExit("a per-user pool shape needs its groups per user")
            calls["AdminListGroupsForUser"] = sum(pages(k) for k in self.groups_per_user)
        else:
            calls["ListUsersInGroup"] = sum(pages(m) for m in self.group_sizes.values())
        if self.last_login:
            calls["AdminListUserAuthEvents"] = self.users
        return calls

    def quota_floor(self, scale: float) -> float:
        """Seconds the minimum calls need at the quotas (times `scale`), busiest category."""
        per_category: dict[str, float] = {}
        for op, n in self.minimum_calls().items():
            category = CATEGORY[op]
            per_category[category] = per_category.get(category, 0) + n
        return max(
            n / ((LIST_GROUPS_PER_POOL if c == "ListGroups" else RATES[c]) * scale)
            for c, n in per_category.items()
        )


# --------------------------------------------------------------------------- emulators


def control(url: str, method: str, path: str, body: dict | None = None) -> dict:
    """One JSON request to an emulator's control API."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as answer:
        return json.load(answer)


def start_synthetic_fast_emulator(fast_emulator: str, users: int, groups: int,
                                  pacing: list[str]) -> tuple[subprocess.Popen, str, str]:
    """The fast emulator serving a synthetic pool (1.5 memberships per user, seed 7) with
    `pacing` (`--latency-ms`, `--quota-scale` or `--no-quota`): the process, its URL, the pool
    id. It exits when its stdin closes."""
    cmd = [fast_emulator, "--port", "0", "--users", str(users), "--groups", str(groups),
           "--memberships-per-user", "1.5", "--seed", "7", *pacing]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    first = proc.stdout.readline().split()
    if first[:1] != ["LISTENING"]:
        raise SystemExit(f"the emulator did not start: {cmd}")
    pool_id = proc.stdout.readline().split()[1]
    return proc, first[1], pool_id


class Emulator:
    """An emulator child process; it exits when its stdin closes."""

    def __init__(self, args: argparse.Namespace, scenario: Scenario, paced: bool):
        if scenario.emulator == "moto":
            cmd = [args.moto_python, str(REPO / "tests/emulator/cognito_emulator.py"), "--port", "0"]
            if paced:
                cmd += ["--latency-ms", str(LATENCY_MS), "--quota-scale", str(scenario.quota_scale)]
        else:
            cmd = [args.fast_emulator, "--port", "0"]
            if scenario.synthetic:
                cmd += ["--users", str(scenario.users), "--groups", str(scenario.groups),
                        "--memberships-per-user", "1.5", "--seed", "7"]
                if scenario.plus:
                    cmd.append("--sign-ins")
            cmd += (["--latency-ms", str(LATENCY_MS), "--quota-scale", str(scenario.quota_scale)]
                    if paced else ["--no-quota"])
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline().split()
        if first[:1] != ["LISTENING"]:
            self.close()
            raise SystemExit(f"emulator did not start: {cmd}")
        self.url = first[1]
        self.scenario = scenario
        if scenario.synthetic:
            self.pool_id = self.proc.stdout.readline().split()[1]
            self.groups_per_user = None
        else:
            request = seed_request(scenario)
            self.pool_id = self.control("POST", "/_emulator/pools", request)["pool_id"]
            if scenario.plus:
                self.control("POST", f"/_emulator/pools/{self.pool_id}/auth-events",
                             {"events": sign_ins(scenario)})
            counts = [0] * scenario.users
            for _, u in seeded_memberships(scenario.users, scenario.groups):
                counts[u] += 1
            self.groups_per_user = counts

    def control(self, method: str, path: str, body: dict | None = None) -> dict:
        return control(self.url, method, path, body)

    def shape(self) -> PoolShape:
        summary = self.control("GET", f"/_emulator/pools/{self.pool_id}")
        return PoolShape(self.pool_id, summary["users"], summary["group_sizes"], self.groups_per_user,
                         last_login=self.scenario.plus)

    def reset_calls(self) -> None:
        self.control("DELETE", "/_emulator/calls")

    def calls(self) -> dict[str, int]:
        return self.control("GET", f"/_emulator/calls?pool_id={self.pool_id}")

    def throttled(self) -> int:
        return self.control("GET", "/_emulator/stats").get("throttled", 0)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def __enter__(self) -> "Emulator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------- the connector


@dataclass
class SyncRun:
    wall_s: float
    peak_rss_mb: float
    output_mb: float
    calls: dict[str, int]
    throttled: int


def connector_env() -> dict[str, str]:
    return dict(os.environ, BATON_LOG_LEVEL="warn", BATON_LOG_FORMAT="json",
                AWS_EC2_METADATA_DISABLED="true")


def pool_flags(emulator: Emulator, shape: PoolShape) -> list[str]:
    """The connector's flags that point it at the emulator's pool."""
    return ["--user-pool-id", shape.pool_id, "--endpoint-url", emulator.url,
            "--aws-access-key-id", ACCESS_KEY, "--aws-secret-access-key", SECRET_KEY]


def run_connector(args: argparse.Namespace, emulator: Emulator, shape: PoolShape, workdir: Path,
                  extra: list[str]) -> SyncRun:
    out = workdir / f"{emulator.scenario.name}.c1z"
    out.unlink(missing_ok=True)
    cmd = [args.connector, *pool_flags(emulator, shape), "-f", str(out), *extra]
    emulator.reset_calls()
    throttled_before = emulator.throttled()
    started = time.monotonic()
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(cmd, env=connector_env(), stdout=subprocess.DEVNULL, stderr=stderr)
        peak_kib = watch_peak_rss(proc)
        wall = time.monotonic() - started
        if proc.returncode != 0:
            stderr.seek(0)
            raise SystemExit(f"sync failed ({proc.returncode}): {' '.join(cmd)}\n"
                             f"{stderr.read().decode(errors='replace')[-4000:]}")
    check_output(args, out, shape)
    return SyncRun(wall, peak_kib / 1024, out.stat().st_size / 2**20, emulator.calls(),
                   emulator.throttled() - throttled_before)


def peak_rss_kib(pid: int) -> int:
    """A live process's peak RSS so far in KiB (VmHWM); 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def watch_peak_rss(proc: subprocess.Popen) -> int:
    """Waits for the process; its peak RSS in KiB (VmHWM, read every 20 ms until it exits).
    Not getrusage: on Linux a child's ru_maxrss starts from its parent's peak at fork, and this
    harness is bigger than a small sync."""
    peak = 0
    while proc.poll() is None:
        peak = max(peak, peak_rss_kib(proc.pid))
        time.sleep(0.02)
    return peak


def run_sdk_syncer(args: argparse.Namespace, emulator: Emulator, shape: PoolShape, workdir: Path,
                   extra: list[str]) -> SyncRun:
    """`baton-cognito serve` on the emulator with `extra` flags, and the Baton SDK's syncer
    (cmd/sdk-sync, the SDK's defaults: one worker, the Pebble store) driving it into a .c1z.
    The wall time is the SDK sync's own (the server is started first); peak RSS is the
    server's."""
    out = workdir / f"{emulator.scenario.name}-sdk.c1z"
    out.unlink(missing_ok=True)
    serve = [args.connector, "serve", "--listen", "127.0.0.1:0", *pool_flags(emulator, shape), *extra]
    with tempfile.TemporaryFile() as server_log:
        server = subprocess.Popen(serve, env=connector_env(), stdout=subprocess.PIPE,
                                  stderr=server_log, text=True)
        try:
            first = server.stdout.readline().split()
            if first[:2] != ["listening", "on"]:
                raise SystemExit(f"the server did not start: {' '.join(serve)}")
            emulator.reset_calls()
            throttled_before = emulator.throttled()
            done = subprocess.run([args.sdk_sync, "--connector", first[2], "--file", str(out)],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                server_log.seek(0)
                raise SystemExit(f"the SDK's sync failed: {done.stderr[-4000:]}\nserver: "
                                 f"{server_log.read().decode(errors='replace')[-2000:]}")
            report = json.loads(done.stdout)
            calls, throttled = emulator.calls(), emulator.throttled() - throttled_before
        finally:
            peak_kib = peak_rss_kib(server.pid)
            server.terminate()
            server.wait(timeout=60)
    check_counts(out, report["resources"], report["grants"], shape)
    return SyncRun(report["wall_s"], peak_kib / 1024, out.stat().st_size / 2**20, calls, throttled)


def check_output(args: argparse.Namespace, out: Path, shape: PoolShape) -> None:
    """A benchmark of a wrong sync means nothing: the file must hold the whole pool."""
    stats = json.loads(subprocess.run([args.connector, "stats", "-f", str(out), "-o", "json"],
                                      check=True, capture_output=True, text=True).stdout)
    check_counts(out, stats["resources_by_type"], stats["grants"], shape)


def check_counts(out: Path, resources: dict[str, int], grants: int, shape: PoolShape) -> None:
    got = (resources.get("user", 0), resources.get("group", 0), grants)
    want = (shape.users, len(shape.group_sizes), shape.memberships)
    if got != want:
        raise SystemExit(f"{out}: (users, groups, grants) = {got}, the pool has {want}")


# --------------------------------------------------------------------------- the AWS CLI


@dataclass
class CliRun:
    wall_s: float
    # Whether wall_s is measured end to end, or extrapolated from measured samples.
    extrapolated: bool
    detail: dict = field(default_factory=dict)


class AwsCli:
    def __init__(self, args: argparse.Namespace, emulator: Emulator):
        self.aws = args.aws
        self.url = emulator.url
        self.pool_id = emulator.pool_id
        self.env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                        AWS_DEFAULT_REGION=REGION, AWS_EC2_METADATA_DISABLED="true",
                        AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                        # With its default retries the CLI gives up on ListGroups' 5 calls per
                        # second per pool; the baseline gets its most forgiving setting.
                        AWS_RETRY_MODE="adaptive", AWS_MAX_ATTEMPTS="20")

    def run(self, *cli_args: str, keep_output: bool = False) -> tuple[float, str]:
        cmd = [self.aws, "cognito-idp", *cli_args, "--user-pool-id", self.pool_id,
               "--endpoint-url", self.url, "--output", "json"]
        started = time.monotonic()
        done = subprocess.run(cmd, env=self.env, capture_output=True, text=True)
        elapsed = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"aws failed: {' '.join(cmd)}\n{done.stderr[-2000:]}")
        return elapsed, done.stdout if keep_output else ""


def run_cli(args: argparse.Namespace, emulator: Emulator, shape: PoolShape) -> CliRun:
    """The listing a user would script with the AWS CLI: every page of list-users, of
    list-groups, and of list-users-in-group for each group. When that would take longer than
    --cli-budget seconds, it is measured on samples and extrapolated (see the docstring of
    `extrapolate`)."""
    cli = AwsCli(args, emulator)
    group_pages = {g: max(1, math.ceil(m / PAGE)) for g, m in shape.group_sizes.items()}
    user_pages = max(1, math.ceil(shape.users / PAGE))
    per_page = LATENCY_MS / 1000 + 0.02
    estimate = (user_pages + sum(group_pages.values())) * per_page + len(group_pages) * 0.8
    if estimate <= args.cli_budget:
        started = time.monotonic()
        cli.run("list-users")
        _, groups_json = cli.run("list-groups", keep_output=True)
        names = [g["GroupName"] for g in json.loads(groups_json)["Groups"]]
        for name in names:
            cli.run("list-users-in-group", "--group-name", name)
        return CliRun(time.monotonic() - started, False, {"invocations": 2 + len(names)})
    return extrapolate(cli, user_pages, group_pages)


def extrapolate(cli: AwsCli, user_pages: int, group_pages: dict[str, int]) -> CliRun:
    """Model: one CLI invocation that reads p pages takes a + b*p seconds, a being the CLI's
    start-up and b one page. Measured: two list-users runs of different lengths (--max-items),
    list-groups in full (counted as measured; it is left out of the fit because ListGroups is
    quota-bound at 5 calls per second per pool), and a spread of groups in full. a and b are the
    least-squares fit over the list-users and group runs; every other group is counted at
    a + b*pages. The estimate leaves out what grows faster than linearly (the CLI holds every
    page of a listing in memory and prints them at the end), so it flatters the CLI."""
    points = []
    for pages in sorted({min(5, user_pages), min(105, user_pages)}):
        points.append((pages, cli.run("list-users", "--max-items", str(pages * PAGE))[0]))
    t_groups, _ = cli.run("list-groups")
    ordered = sorted(group_pages, key=lambda g: (group_pages[g], g))
    sample = [g for g in ordered[:: max(1, len(ordered) // 12)] if group_pages[g] <= 40][:12]
    measured = [(g, cli.run("list-users-in-group", "--group-name", g)[0]) for g in sample]
    points += [(group_pages[g], t) for g, t in measured]
    a, b = fit_line(points)
    predicted = sum(a + b * group_pages[g] for g, _ in measured)
    total = (a + b * user_pages) + t_groups + sum(a + b * p for p in group_pages.values())
    return CliRun(total, True, {
        "startup_s": round(a, 3), "per_page_s": round(b, 4), "list_groups_s": round(t_groups, 2),
        "sampled_groups": len(measured), "sample_measured_s": round(sum(t for _, t in measured), 2),
        "sample_predicted_s": round(predicted, 2), "invocations": 2 + len(group_pages)})


def fit_line(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least squares t = a + b*p; with no spread in p, b = 0 and a = the mean."""
    n = len(points)
    mean_p = sum(p for p, _ in points) / n
    mean_t = sum(t for _, t in points) / n
    spread = sum((p - mean_p) ** 2 for p, _ in points)
    b = 0.0 if spread == 0 else sum((p - mean_p) * (t - mean_t) for p, t in points) / spread
    return mean_t - b * mean_p, b


# --------------------------------------------------------------------------- the table


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def run_scenario(args: argparse.Namespace, scenario: Scenario, workdir: Path) -> dict:
    log(f"{scenario.name}: {scenario.about}")
    result: dict = {"scenario": scenario.name, "about": scenario.about,
                    "paced_quota_scale": scenario.quota_scale}
    with Emulator(args, scenario, paced=True) as emulator:
        shape = emulator.shape()
        minimum = shape.minimum_calls()
        floor = shape.quota_floor(scenario.quota_scale)
        result.update(users=shape.users, groups=len(shape.group_sizes),
                      memberships=shape.memberships, minimum_calls=minimum,
                      quota_floor_s=round(floor, 2))
        log(f"  paced sync (50 ms, quotas x{scenario.quota_scale:g}); floor {floor:.1f} s")
        budget = ["--api-budget", "1", "--quota-scale", str(scenario.quota_scale)]
        paced = run_connector(args, emulator, shape, workdir, budget)
        result["paced"] = paced.__dict__
        if scenario.compare_slicing:
            log("  the same paced sync with --user-slicing never, then always")
            result["slicing"] = {
                mode: run_connector(args, emulator, shape, workdir,
                                    [*budget, "--user-slicing", mode]).__dict__
                for mode in ("never", "always")
            }
        if scenario.plus:
            log("  the same paced sync with --last-login off")
            result["last_login_off"] = run_connector(args, emulator, shape, workdir,
                                                     [*budget, "--last-login", "off"]).__dict__
        if scenario.sdk_syncer:
            log("  the Baton SDK's syncer driving baton-cognito serve, same latency and quotas")
            result["sdk"] = run_sdk_syncer(args, emulator, shape, workdir, budget).__dict__
        if not args.no_cli and not scenario.plus:
            log("  AWS CLI baseline")
            emulator.reset_calls()
            cli = run_cli(args, emulator, shape)
            result["cli"] = cli.__dict__
    with Emulator(args, scenario, paced=False) as emulator:
        shape = emulator.shape()
        log("  unpaced sync (no latency, no quota)")
        result["unpaced"] = run_connector(args, emulator, shape, workdir,
                                          ["--quota-scale", "unlimited"]).__dict__
    return result


def table(results: list[dict]) -> str:
    ops = ["ListUsers", "ListGroups", "ListUsersInGroup", "AdminListGroupsForUser",
           "AdminListUserAuthEvents", "DescribeUserPool"]
    lines = [
        "| scenario | users | groups | memberships | calls: actual / minimum | call ratio "
        "| quota floor | paced wall | wall / floor | throttled | AWS CLI | CLI / connector "
        "| unpaced wall | peak RSS | .c1z |",
        "|" + "---|" * 15,
    ]
    for r in results:
        paced, unpaced, minimum = r["paced"], r["unpaced"], r["minimum_calls"]
        calls = ", ".join(f"{op} {paced['calls'].get(op, 0):,}/{minimum[op]:,}"
                          for op in ops if op in minimum or op in paced["calls"])
        actual_total = sum(paced["calls"].values())
        worst = max(paced["calls"].get(op, 0) / n for op, n in minimum.items())
        cli = r.get("cli")
        cli_text = "not run" if cli is None else (
            f"{cli['wall_s']:.0f} s" + (" (extrapolated)" if cli["extrapolated"] else ""))
        scale = "" if r["paced_quota_scale"] == 1 else f" (quotas x{r['paced_quota_scale']:g})"
        lines.append(
            f"| {r['scenario']} | {r['users']:,} | {r['groups']:,} | {r['memberships']:,} "
            f"| {calls} | {worst:.4f} (total {actual_total:,}/{sum(minimum.values()):,}) "
            f"| {r['quota_floor_s']:.1f} s{scale} | {paced['wall_s']:.1f} s "
            f"| {ratio(paced['wall_s'], r['quota_floor_s'])} | {paced['throttled']} "
            f"| {cli_text} | {'n/a' if cli is None else ratio(cli['wall_s'], paced['wall_s'])} "
            f"| {unpaced['wall_s']:.1f} s "
            f"| {max(paced['peak_rss_mb'], unpaced['peak_rss_mb']):.0f} MB "
            f"| {unpaced['output_mb']:.1f} MiB |")
    return "\n".join(lines)


def sdk_table(results: list[dict]) -> str:
    """The upstream architecture beside ours: the SDK's syncer driving the gRPC server, and the
    one-shot engine, in the same paced emulator."""
    lines = [
        "| scenario | one-shot: calls | one-shot: wall | SDK syncer via gRPC: calls "
        "| SDK syncer: wall | SDK / one-shot wall | SDK throttled |",
        "|" + "---|" * 7,
    ]
    for r in results:
        sdk = r.get("sdk")
        if sdk is None:
            continue
        paced = r["paced"]
        lines.append(
            f"| {r['scenario']} | {sum(paced['calls'].values()):,} | {paced['wall_s']:.1f} s "
            f"| {sum(sdk['calls'].values()):,} ("
            + ", ".join(f"{op} {n:,}" for op, n in sorted(sdk["calls"].items()))
            + f") | {sdk['wall_s']:.1f} s | **{ratio(sdk['wall_s'], paced['wall_s'])}** "
            f"| {sdk['throttled']} |")
    return "\n".join(lines)


def slicing_table(results: list[dict]) -> str:
    """The paced sync with slicing decided by the measured listing (auto), never and always."""
    lines = [
        "| scenario | auto: ListUsers | auto: wall | never: ListUsers | never: wall "
        "| always: ListUsers | always: wall |",
        "|" + "---|" * 7,
    ]
    for r in results:
        slicing = r.get("slicing")
        if slicing is None:
            continue
        runs = [r["paced"], slicing["never"], slicing["always"]]
        lines.append(f"| {r['scenario']} | " + " | ".join(
            f"{run['calls'].get('ListUsers', 0):,} | {run['wall_s']:.1f} s" for run in runs) + " |")
    return "\n".join(lines)


def last_login_table(results: list[dict]) -> str:
    """Last login read per user in the paced sync, against the UserResourceRead quota's floor for
    those calls, beside the same sync without it."""
    lines = [
        "| scenario | history calls (AdminListUserAuthEvents) | their floor at the quota "
        "| paced wall | wall / floor | --last-login off: calls | --last-login off: wall |",
        "|" + "---|" * 7,
    ]
    for r in results:
        off = r.get("last_login_off")
        if off is None:
            continue
        paced = r["paced"]
        history = paced["calls"].get("AdminListUserAuthEvents", 0)
        floor = r["users"] / (RATES["UserResourceRead"] * r["paced_quota_scale"])
        lines.append(
            f"| {r['scenario']} | {history:,} | {floor:.1f} s | {paced['wall_s']:.1f} s "
            f"| {ratio(paced['wall_s'], floor)} "
            f"| {off['calls'].get('AdminListUserAuthEvents', 0):,} | {off['wall_s']:.1f} s |")
    return "\n".join(lines)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> None:
    names = [s.name for s in SCENARIOS]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connector", required=True)
    ap.add_argument("--fast-emulator", required=True)
    ap.add_argument("--moto-python", required=True)
    ap.add_argument("--aws", required=True)
    ap.add_argument("--sdk-sync", required=True, help="conformance/cmd/sdk-sync, built")
    ap.add_argument("--only", help=f"comma-separated scenarios among {', '.join(names)}")
    ap.add_argument("--cli-budget", type=float, default=240,
                    help="seconds the AWS CLI baseline may take per scenario before it is "
                         "sampled and extrapolated (default 240)")
    ap.add_argument("--no-cli", action="store_true", help="skip the AWS CLI baseline")
    ap.add_argument("--json", default=str(REPO / "bench-results.json"),
                    help="where to write the raw results (default bench-results.json)")
    args = ap.parse_args()
    chosen = SCENARIOS
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            ap.error(f"unknown scenario {', '.join(unknown)}; choose among {', '.join(names)}")
        chosen = [s for s in SCENARIOS if s.name in wanted]
    started = time.monotonic()
    results = []
    with tempfile.TemporaryDirectory(prefix="baton-cognito-bench.") as workdir:
        for scenario in chosen:
            results.append(run_scenario(args, scenario, Path(workdir)))
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print()
    print(sdk_table(results))
    print()
    print(slicing_table(results))
    print()
    print(last_login_table(results))
    log(f"raw results: {args.json}; {time.monotonic() - started:.0f} s in all")


if __name__ == "__main__":
    main()
