"""Self-test of the Cognito emulator (cognito_emulator.py).

Run with the emulator's virtualenv:

    PY=$(scripts/ensure-emulator) && "$PY" -m pytest -q tests/emulator

Each test talks to a real emulator subprocess with boto3 (the AWS JSON protocol,
SigV4-signed with dummy credentials) and with plain HTTP for the control API.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "cognito_emulator.py")
REGION = "us-east-1"

ODD_USERNAMES = [
    "alice smith",
    "bob:colon",
    "carol/slash",
    'dave "quoted"',
    "émile-ünïcødé",
    "王小明",
    "o'hara",
    "back\\slash",
    "user+tag@example.com",
    "percent%20sign",
    "question?mark#hash",
]
USER_STATUSES = [
    "UNCONFIRMED", "CONFIRMED", "ARCHIVED", "COMPROMISED", "UNKNOWN",
    "RESET_REQUIRED", "FORCE_CHANGE_PASSWORD", "EXTERNAL_PROVIDER",
]
ODD_GROUPS = [
    "Group With Spaces",
    "a:b/c",
    '"quoted" group',
    "Ünïcode グループ",
    "x%2Fy",
]


class Emulator:
    def __init__(self, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, EMULATOR, "--port", "0", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        line = self.proc.stdout.readline().decode()
        assert line.startswith("LISTENING http://127.0.0.1:"), (line, self._stderr())
        self.url = line.split()[1]
        self.stdout_lines = [line]

    def _stderr(self) -> str:
        try:
            self.proc.kill()
            return self.proc.stderr.read().decode(errors="replace")
        except Exception:
            return ""

    def readline(self) -> str:
        line = self.proc.stdout.readline().decode()
        self.stdout_lines.append(line)
        return line

    # control API
    def call(self, method: str, path: str, body=None, raw: bytes | None = None):
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def ok(self, method: str, path: str, body=None):
        status, ans = self.call(method, path, body)
        assert status == 200, (status, ans)
        return ans

    def client(self, region: str = REGION, attempts: int = 1, mode: str = "standard"):
        return boto3.client(
            "cognito-idp",
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret",
            config=Config(
                retries={"total_max_attempts": attempts, "mode": mode},
                connect_timeout=5,
                read_timeout=30,
            ),
        )

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextmanager
def emulator(*args: str):
    emu = Emulator(*args)
    try:
        yield emu
    finally:
        emu.close()


@pytest.fixture(scope="module")
def emu():
    with emulator() as e:
        yield e


def q(s: str) -> str:
    return urllib.parse.quote(s, safe="")


def list_all_users(client, pool_id: str, limit: int = 60, **kw) -> list[dict]:
    out, token, pages = [], None, 0
    while True:
        args = dict(UserPoolId=pool_id, Limit=limit, **kw)
        if token:
            args["PaginationToken"] = token
        r = client.list_users(**args)
        assert len(r["Users"]) <= limit
        out.extend(r["Users"])
        pages += 1
        token = r.get("PaginationToken")
        if not token:
            return out
        assert pages < 100_000


def list_all_groups(client, pool_id: str, limit: int = 60) -> list[dict]:
    out, token = [], None
    while True:
        args = dict(UserPoolId=pool_id, Limit=limit)
        if token:
            args["NextToken"] = token
        r = client.list_groups(**args)
        assert len(r["Groups"]) <= limit
        out.extend(r["Groups"])
        token = r.get("NextToken")
        if not token:
            return out


def list_all_members(client, pool_id: str, group: str, limit: int = 60) -> list[dict]:
    out, token = [], None
    while True:
        args = dict(UserPoolId=pool_id, GroupName=group, Limit=limit)
        if token:
            args["NextToken"] = token
        r = client.list_users_in_group(**args)
        assert len(r["Users"]) <= limit
        out.extend(r["Users"])
        token = r.get("NextToken")
        if not token:
            return out


def attrs(user: dict) -> dict:
    return {a["Name"]: a["Value"] for a in user.get("Attributes", user.get("UserAttributes", []))}


# --------------------------------------------------------------------------- startup / lifecycle


def test_stdout_protocol_and_stdin_eof_exit():
    emu = Emulator()
    c = emu.client()
    c.list_user_pools(MaxResults=10)
    emu.call("POST", "/_emulator/pools", {"users": [{"username": 7}]})  # provokes a 400
    emu.proc.stdin.close()  # harness "dies"
    emu.proc.wait(timeout=5)
    assert emu.proc.returncode == 0
    rest = emu.proc.stdout.read().decode()
    assert rest == "", f"unexpected stdout after LISTENING: {rest!r}"


def test_sigterm_exits():
    emu = Emulator()
    emu.proc.send_signal(signal.SIGTERM)
    emu.proc.wait(timeout=5)
    assert emu.proc.returncode == 0
    emu.close()


def test_health_and_unknown_routes(emu):
    assert emu.ok("GET", "/_emulator/health") == {"ok": True}
    status, ans = emu.call("GET", "/_emulator/nope")
    assert status == 404 and "error" in ans
    status, ans = emu.call("GET", "/_emulator/reset")
    assert status == 405 and "error" in ans


# --------------------------------------------------------------------------- seeding & odd names


def test_odd_names_round_trip(emu):
    users = [
        {"username": u, "attributes": {"email": f"u{i}@example.com", "custom:dept": "R&D"}}
        for i, u in enumerate(ODD_USERNAMES)
    ]
    groups = [
        {"name": g, "description": f"desc {g}", "precedence": i, "role_arn": f"arn:aws:iam::123456789012:role/r{i}"}
        for i, g in enumerate(ODD_GROUPS)
    ]
    memberships = [[g, u] for g in ODD_GROUPS for u in ODD_USERNAMES[: 3 + ODD_GROUPS.index(g)]]
    ans = emu.ok("POST", "/_emulator/pools", {
        "region": REGION, "name": "odd names", "users": users, "groups": groups,
        "memberships": memberships,
    })
    pool_id = ans["pool_id"]
    assert pool_id.startswith(REGION + "_") and len(pool_id) == len(REGION) + 10
    assert ans["arn"] == f"arn:aws:cognito-idp:{REGION}:123456789012:userpool/{pool_id}"
    assert ans["region"] == REGION

    c = emu.client()
    listed = list_all_users(c, pool_id, limit=4)
    assert sorted(u["Username"] for u in listed) == sorted(ODD_USERNAMES)
    subs = [attrs(u)["sub"] for u in listed]
    assert len(set(subs)) == len(subs) and all(len(s) == 36 for s in subs)
    for u in listed:
        assert u["UserStatus"] == "CONFIRMED" and u["Enabled"] is True
        assert attrs(u)["custom:dept"] == "R&D"

    got_groups = list_all_groups(c, pool_id, limit=2)
    assert [g["GroupName"] for g in got_groups] == ODD_GROUPS
    g0 = got_groups[0]
    assert g0["Description"] == "desc Group With Spaces" and g0["Precedence"] == 0
    assert g0["RoleArn"] == "arn:aws:iam::123456789012:role/r0"

    for g in ODD_GROUPS:
        members = list_all_members(c, pool_id, g, limit=2)
        assert sorted(m["Username"] for m in members) == sorted(ODD_USERNAMES[: 3 + ODD_GROUPS.index(g)])
    for u in ODD_USERNAMES:
        got = c.admin_get_user(UserPoolId=pool_id, Username=u)
        assert got["Username"] == u
        mine = c.admin_list_groups_for_user(UserPoolId=pool_id, Username=u, Limit=60)["Groups"]
        expected = {g for g, m in memberships if m == u}
        assert {g["GroupName"] for g in mine} == expected

    # custom attributes are declared in the pool schema
    schema = c.describe_user_pool(UserPoolId=pool_id)["UserPool"]["SchemaAttributes"]
    assert "custom:dept" in {a["Name"] for a in schema}
    assert "email" in {a["Name"] for a in schema}

    # mutation through the control API with url-encoded names
    emu.ok("DELETE", f"/_emulator/pools/{pool_id}/users/{q('carol/slash')}")
    emu.ok("DELETE", f"/_emulator/pools/{pool_id}/groups/{q('a:b/c')}")
    emu.ok("DELETE", f"/_emulator/pools/{pool_id}/groups/{q('x%2Fy')}")
    emu.ok("DELETE", f"/_emulator/pools/{pool_id}/users/{q('王小明')}")
    left = {u["Username"] for u in list_all_users(c, pool_id)}
    assert left == set(ODD_USERNAMES) - {"carol/slash", "王小明"}
    assert [g["GroupName"] for g in list_all_groups(c, pool_id)] == [
        g for g in ODD_GROUPS if g not in ("a:b/c", "x%2Fy")
    ]
    members = list_all_members(c, pool_id, "Group With Spaces")
    assert "carol/slash" not in {m["Username"] for m in members}
    status, ans = emu.call("DELETE", f"/_emulator/pools/{pool_id}/users/{q('carol/slash')}")
    assert status == 404

    # add more to the existing pool, then remove a membership
    emu.ok("POST", f"/_emulator/pools/{pool_id}/groups", {"groups": [{"name": "late group"}]})
    emu.ok("POST", f"/_emulator/pools/{pool_id}/users", {"users": [{"username": "late user"}]})
    ans = emu.ok("POST", f"/_emulator/pools/{pool_id}/memberships",
                 {"memberships": [["late group", "late user"], {"group": "late group", "username": "bob:colon"}]})
    assert ans["added"]["memberships"] == 2
    assert {m["Username"] for m in list_all_members(c, pool_id, "late group")} == {"late user", "bob:colon"}
    ans = emu.ok("DELETE", f"/_emulator/pools/{pool_id}/memberships",
                 {"memberships": [["late group", "bob:colon"]]})
    assert ans["removed"] == 1
    assert {m["Username"] for m in list_all_members(c, pool_id, "late group")} == {"late user"}


def test_status_enabled_sub_and_filters(emu):
    users = [
        {"username": f"user-{s.lower()}", "status": s, "enabled": i % 2 == 0,
         "attributes": {"email": f"{s.lower()}@example.com"}}
        for i, s in enumerate(USER_STATUSES)
    ]
    explicit_sub = "0f0f0f0f-1111-4222-8333-444444444444"
    users.append({"username": "Google_123456789012345678901", "status": "EXTERNAL_PROVIDER",
                  "attributes": {"sub": explicit_sub, "email": "g@example.com"},
                  "create_date": 1600000000, "last_modified_date": "2021-01-02T03:04:05Z"})
    pool_id = emu.ok("POST", "/_emulator/pools", {"users": users})["pool_id"]
    c = emu.client()
    listed = {u["Username"]: u for u in list_all_users(c, pool_id)}
    for i, s in enumerate(USER_STATUSES):
        u = listed[f"user-{s.lower()}"]
        assert u["UserStatus"] == s
        assert u["Enabled"] is (i % 2 == 0)
    g = listed["Google_123456789012345678901"]
    assert attrs(g)["sub"] == explicit_sub
    assert g["Attributes"][0]["Name"] == "sub"  # caller's order is kept
    assert int(g["UserCreateDate"].timestamp()) == 1600000000
    assert g["UserLastModifiedDate"].isoformat().startswith("2021-01-02T03:04:05")

    r = c.list_users(UserPoolId=pool_id, Filter='cognito:user_status = "UNCONFIRMED"')
    assert [u["Username"] for u in r["Users"]] == ["user-unconfirmed"]
    r = c.list_users(UserPoolId=pool_id, Filter='status = "Disabled"')
    assert len(r["Users"]) == len(USER_STATUSES) // 2
    r = c.list_users(UserPoolId=pool_id, Filter='sub = "%s"' % explicit_sub)
    assert [u["Username"] for u in r["Users"]] == ["Google_123456789012345678901"]

    # duplicate explicit sub is refused
    status, ans = emu.call("POST", f"/_emulator/pools/{pool_id}/users",
                           {"users": [{"username": "dup", "attributes": {"sub": explicit_sub}}]})
    assert status == 400 and "sub" in ans["error"]

    # PATCH a user's status / enabled / attributes
    ans = emu.ok("PATCH", f"/_emulator/pools/{pool_id}/users/user-confirmed",
                 {"status": "COMPROMISED", "enabled": False, "attributes": {"custom:x": "1"}})
    assert ans == {"username": "user-confirmed", "enabled": False, "status": "COMPROMISED"}
    got = c.admin_get_user(UserPoolId=pool_id, Username="user-confirmed")
    assert got["UserStatus"] == "COMPROMISED" and got["Enabled"] is False
    assert attrs(got)["custom:x"] == "1"


def test_pagination(emu):
    n_users, n_groups = 250, 130
    users = [{"username": f"u{i:04d}"} for i in range(n_users)]
    groups = [{"name": f"g{i:03d}"} for i in range(n_groups)]
    memberships = [["g000", f"u{i:04d}"] for i in range(0, n_users, 2)]  # 125 members
    pool_id = emu.ok("POST", "/_emulator/pools",
                     {"users": users, "groups": groups, "memberships": memberships})["pool_id"]
    c = emu.client()

    # pages of 60: 60,60,60,60,10
    sizes, token = [], None
    while True:
        args = {"UserPoolId": pool_id, "Limit": 60}
        if token:
            args["PaginationToken"] = token
        r = c.list_users(**args)
        sizes.append(len(r["Users"]))
        token = r.get("PaginationToken")
        if not token:
            break
    assert sizes == [60, 60, 60, 60, 10]
    for limit in (60, 7, 1):
        names = [u["Username"] for u in list_all_users(c, pool_id, limit=limit)]
        assert names == [f"u{i:04d}" for i in range(n_users)]  # moto keeps insertion order
    for limit in (60, 13):
        assert [g["GroupName"] for g in list_all_groups(c, pool_id, limit=limit)] == [
            f"g{i:03d}" for i in range(n_groups)
        ]
        members = list_all_members(c, pool_id, "g000", limit=limit)
        assert [m["Username"] for m in members] == [f"u{i:04d}" for i in range(0, n_users, 2)]
    assert list_all_members(c, pool_id, "g001") == []

    # moto quirks the connector must survive: tokens name the next page's first item
    # (not bound to Filter); an anchor missing from the (filtered) listing -> InvalidToken
    r = c.list_users(UserPoolId=pool_id, Limit=10)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.list_users(UserPoolId=pool_id, Limit=10, Filter='username ^= "u02"',
                     PaginationToken=r["PaginationToken"])
    assert ei.value.response["Error"]["Code"] == "InvalidToken"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.list_users(UserPoolId=pool_id, PaginationToken="garbage")
    assert ei.value.response["Error"]["Code"] == "InvalidToken"
    # moto accepts Limit > 60 and treats Limit 0 as the default 60
    assert len(c.list_users(UserPoolId=pool_id, Limit=100)["Users"]) == 100
    assert len(c.list_users(UserPoolId=pool_id, Limit=0)["Users"]) == 60


def test_validation_errors(emu):
    cases = [
        {"users": [{"attributes": {}}]},  # no username
        {"users": [{"username": ""}]},
        {"users": [{"username": "a", "status": "SLEEPING"}]},
        {"users": [{"username": "a", "enabled": "yes"}]},
        {"users": [{"username": "a"}, {"username": "a"}]},
        {"users": [{"username": "a", "attributes": {"email": ["x"]}}]},
        {"users": [{"username": "a", "colour": "red"}]},
        {"groups": [{"name": "g", "precedence": -1}]},
        {"groups": [{"name": "g"}, {"name": "g"}]},
        {"memberships": [["nogroup", "nouser"]]},
        {"users": [{"username": "a"}], "groups": [{"name": "g"}], "memberships": [["g", "b"]]},
        {"memberships": [["g"]]},
        {"region": "mars-north-1"},
        {"region": 5},
        {"users": "not a list"},
        {"bogus": 1},
    ]
    before = emu.ok("GET", "/_emulator/pools")["pools"]
    for body in cases:
        status, ans = emu.call("POST", "/_emulator/pools", body)
        assert status == 400, body
        assert isinstance(ans.get("error"), str) and ans["error"], body
    status, ans = emu.call("POST", "/_emulator/pools", raw=b"{not json")
    assert status == 400 and "JSON" in ans["error"]
    status, ans = emu.call("POST", "/_emulator/pools", raw=b"[1,2]")
    assert status == 400
    assert emu.ok("GET", "/_emulator/pools")["pools"] == before  # nothing half-created

    pool_id = emu.ok("POST", "/_emulator/pools", {"users": [{"username": "only"}]})["pool_id"]
    status, ans = emu.call("POST", f"/_emulator/pools/{pool_id}/users",
                           {"users": [{"username": "new"}, {"username": "only"}]})
    assert status == 400
    assert emu.ok("GET", f"/_emulator/pools/{pool_id}")["users"] == 1  # atomic
    status, ans = emu.call("POST", "/_emulator/pools/us-east-1_nope/users", {"users": []})
    assert status == 404
    for rules in ([{"operation": "ListUsers", "kind": "explode"}],
                  [{"operation": "ListUsers", "kind": "throttle", "count": 0}],
                  [{"operation": "ListUsers", "kind": "delay"}],
                  [{"operation": "", "kind": "throttle"}]):
        status, ans = emu.call("POST", "/_emulator/faults", {"rules": rules})
        assert status == 400 and ans["error"], rules
    assert emu.ok("GET", "/_emulator/faults") == {"rules": []}


def test_region_isolation(emu):
    pool_id = emu.ok("POST", "/_emulator/pools", {"region": "eu-west-1", "users": [{"username": "x"}]})["pool_id"]
    assert pool_id.startswith("eu-west-1_")
    eu = emu.client("eu-west-1")
    assert [u["Username"] for u in eu.list_users(UserPoolId=pool_id)["Users"]] == ["x"]
    us = emu.client("us-east-1")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        us.list_users(UserPoolId=pool_id)
    assert ei.value.response["Error"]["Code"] == "ResourceNotFoundException"


# --------------------------------------------------------------------------- faults & calls


# The X-Amz-Target prefix and SigV4 service name of the services the emulator serves.
SERVICES = {
    "cognito-idp": "AWSCognitoIdentityProviderService",
    "logs": "Logs_20140328",
}


def _raw_aws_post(url: str, op: str, body: dict, service: str = "cognito-idp") -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url + "/", data=json.dumps(body).encode(), method="POST")
    req.add_header("X-Amz-Target", f"{SERVICES[service]}.{op}")
    req.add_header("Content-Type", "application/x-amz-json-1.1")
    req.add_header(
        "Authorization",
        f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host, Signature=00",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_faults(emu):
    emu.ok("DELETE", "/_emulator/faults")
    pool_id = emu.ok("POST", "/_emulator/pools", {"users": [{"username": "f1"}]})["pool_id"]
    c = emu.client(attempts=1)

    # throttle: exact wire shape
    emu.ok("POST", "/_emulator/faults", {"rules": [{"operation": "ListUsers", "kind": "throttle", "count": 1}]})
    status, headers, body = _raw_aws_post(emu.url, "ListUsers", {"UserPoolId": pool_id})
    h = {k.lower(): v for k, v in headers.items()}
    assert status == 400
    assert h["x-amzn-errortype"] == "TooManyRequestsException"
    assert h["content-type"] == "application/x-amz-json-1.1"
    assert "x-amzn-requestid" in h
    assert json.loads(body) == {"__type": "TooManyRequestsException", "message": "Too many requests"}

    # throttle through boto3: seen as TooManyRequestsException, then rule exhausted
    emu.ok("POST", "/_emulator/faults", {"rules": [{"operation": "ListUsers", "kind": "throttle", "count": 2}]})
    assert emu.ok("GET", "/_emulator/faults")["rules"] == [
        {"operation": "ListUsers", "kind": "throttle", "count": 2}
    ]
    for _ in range(2):
        with pytest.raises(c.exceptions.TooManyRequestsException) as ei:
            c.list_users(UserPoolId=pool_id)
        assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert emu.ok("GET", "/_emulator/faults") == {"rules": []}
    assert len(c.list_users(UserPoolId=pool_id)["Users"]) == 1
    c.list_groups(UserPoolId=pool_id)  # other operations untouched

    # botocore's standard retry classifies it as throttling and retries through it
    emu.ok("POST", "/_emulator/faults", {"rules": [{"operation": "ListUsers", "kind": "throttle", "count": 2}]})
    retrying = emu.client(attempts=3)
    assert len(retrying.list_users(UserPoolId=pool_id)["Users"]) == 1
    assert emu.ok("GET", "/_emulator/faults") == {"rules": []}

    # the other error kinds
    expectations = [
        ("internal", 500, "InternalErrorException"),
        ("not_authorized", 400, "NotAuthorizedException"),
        ("access_denied", 400, "AccessDeniedException"),
    ]
    for kind, http, code in expectations:
        emu.ok("POST", "/_emulator/faults", {"rules": [{"operation": "*", "kind": kind}]})
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            c.list_groups(UserPoolId=pool_id)
        assert ei.value.response["Error"]["Code"] == code
        assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == http
    emu.ok("POST", "/_emulator/faults", {"rules": [
        {"operation": "GetGroup", "kind": "error", "error_type": "ResourceNotFoundException",
         "message": "Group not found."}]})
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_group(UserPoolId=pool_id, GroupName="whatever")

    emu.ok("POST", "/_emulator/faults", {"rules": [{"operation": "ListUsers", "kind": "unavailable"}]})
    status, headers, body = _raw_aws_post(emu.url, "ListUsers", {"UserPoolId": pool_id})
    assert status == 503 and not body.startswith(b"{")
    emu.ok("POST", "/_emulator/faults", {"rules": [{"operation": "ListUsers", "kind": "unavailable"}]})
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.list_users(UserPoolId=pool_id)
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503

    # reset: a connection error, promptly (no hang)
    emu.ok("POST", "/_emulator/faults", {"rules": [{"operation": "ListUsers", "kind": "reset"}]})
    t0 = time.monotonic()
    with pytest.raises((botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError)):
        c.list_users(UserPoolId=pool_id)
    assert time.monotonic() - t0 < 5
    emu.ok("POST", "/_emulator/faults", {"rules": [{"operation": "ListUsers", "kind": "reset"}]})
    with pytest.raises((ConnectionError, urllib.error.URLError, OSError)):
        _raw_aws_post(emu.url, "ListUsers", {"UserPoolId": pool_id})
    assert len(c.list_users(UserPoolId=pool_id)["Users"]) == 1  # server still fine

    # delay
    emu.ok("POST", "/_emulator/faults", {"rules": [{"operation": "ListUsers", "kind": "delay", "delay_ms": 400}]})
    t0 = time.monotonic()
    c.list_users(UserPoolId=pool_id)
    assert time.monotonic() - t0 >= 0.4

    # first matching rule wins; '*' rules; skip; pool_id scoping; DELETE clears
    emu.ok("POST", "/_emulator/faults", {"rules": [
        {"operation": "ListGroups", "kind": "internal", "count": 1, "skip": 1},
        {"operation": "*", "kind": "throttle", "count": 1, "pool_id": "us-east-1_other"},
    ]})
    c.list_groups(UserPoolId=pool_id)  # skipped once
    with pytest.raises(c.exceptions.InternalErrorException):
        c.list_groups(UserPoolId=pool_id)
    c.list_groups(UserPoolId=pool_id)  # pool-scoped rule does not match this pool
    assert emu.ok("GET", "/_emulator/faults")["rules"] == [
        {"operation": "*", "kind": "throttle", "count": 1, "pool_id": "us-east-1_other"}
    ]
    assert emu.ok("DELETE", "/_emulator/faults") == {"rules": []}


def test_continuation_faults_match_only_later_pages(emu):
    """`continuation: true` rules fire only on requests carrying a page token: a stale
    token mid-listing, as real Cognito reports it, never on a first page."""
    users = [{"username": f"c{i:02}"} for i in range(5)]
    pool_id = emu.ok("POST", "/_emulator/pools", {
        "users": users, "groups": [{"name": "g"}],
        "memberships": [["g", u["username"]] for u in users],
    })["pool_id"]
    other = emu.ok("POST", "/_emulator/pools", {"users": users})["pool_id"]
    c = emu.client(attempts=1)
    stale = {"kind": "error", "status": 400, "error_type": "InvalidParameterException",
             "message": "Paging marker abc is invalid for request 11111111-2222", "continuation": True,
             "pool_id": pool_id}
    # Validation: a boolean only; echoed by GET (and left out when false).
    for bad_value in ("yes", 1, None):
        status, ans = emu.call("POST", "/_emulator/faults", {"rules": [
            {"operation": "ListUsers", "kind": "throttle", "continuation": bad_value}]})
        assert status == 400 and "continuation" in ans["error"], bad_value
    rules = emu.ok("POST", "/_emulator/faults", {"rules": [
        {"operation": "ListUsers", "count": 1, "skip": 1, **stale},
        {"operation": "ListUsersInGroup", "count": 1, **stale},
        {"operation": "ListGroups", "kind": "throttle", "continuation": False, "count": 1, "pool_id": other},
    ]})["rules"]
    assert rules[0]["continuation"] is True and rules[0]["skip"] == 1
    assert "continuation" not in rules[2]

    # First pages pass and do not count towards `skip`; the second continuation request fails.
    emu.ok("DELETE", "/_emulator/calls")
    first = c.list_users(UserPoolId=pool_id, Limit=2)
    assert len(first["Users"]) == 2
    assert c.list_users(UserPoolId=pool_id, Limit=2)["PaginationToken"]  # still a first page
    second = c.list_users(UserPoolId=pool_id, Limit=2, PaginationToken=first["PaginationToken"])
    assert len(second["Users"]) == 2  # skipped once
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.list_users(UserPoolId=pool_id, Limit=2, PaginationToken=second["PaginationToken"])
    err = ei.value.response
    assert err["Error"]["Code"] == "InvalidParameterException"
    assert err["Error"]["Message"].startswith("Paging marker abc is invalid")
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Used up: the same token works again (moto's tokens do not go stale by themselves).
    third = c.list_users(UserPoolId=pool_id, Limit=2, PaginationToken=second["PaginationToken"])
    assert [u["Username"] for u in third["Users"]] == ["c04"]

    # NextToken counts as a continuation too (ListUsersInGroup); the first page does not.
    page = c.list_users_in_group(UserPoolId=pool_id, GroupName="g", Limit=3)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        c.list_users_in_group(UserPoolId=pool_id, GroupName="g", Limit=3, NextToken=page["NextToken"])
    assert ei.value.response["Error"]["Code"] == "InvalidParameterException"
    reqs = [r for r in emu.ok("GET", "/_emulator/requests")["requests"] if r.get("pool_id") == pool_id]
    assert [(r["operation"], r.get("token", False), r.get("fault")) for r in reqs] == [
        ("ListUsers", False, None), ("ListUsers", False, None), ("ListUsers", True, None),
        ("ListUsers", True, "error"), ("ListUsers", True, None),
        ("ListUsersInGroup", False, None), ("ListUsersInGroup", True, "error"),
    ]

    # An empty token is a first page. `continuation: false` (the default) matches any request.
    emu.ok("POST", "/_emulator/faults", {"rules": [{"operation": "ListUsers", "count": -1, **stale}]})
    assert len(c.list_users(UserPoolId=pool_id, Limit=60)["Users"]) == 5
    # (moto itself refuses an empty token, with its own InvalidToken: not the rule's answer)
    status, _, body = _raw_aws_post(emu.url, "ListUsers", {"UserPoolId": pool_id, "PaginationToken": ""})
    assert json.loads(body)["__type"] != "InvalidParameterException", (status, body)
    last = [r for r in emu.ok("GET", "/_emulator/requests?operation=ListUsers")["requests"]
            if r.get("pool_id") == pool_id][-1]
    assert "fault" not in last and "token" not in last
    with pytest.raises(c.exceptions.TooManyRequestsException):
        c.list_groups(UserPoolId=other)

    # DELETE ?pool_id= clears that pool's rules only.
    emu.ok("POST", "/_emulator/faults", {"rules": [
        {"operation": "ListGroups", "kind": "throttle", "count": 1, "pool_id": other}]})
    left = emu.ok("DELETE", f"/_emulator/faults?pool_id={pool_id}")["rules"]
    assert left == [{"operation": "ListGroups", "kind": "throttle", "count": 1, "pool_id": other}]
    assert emu.ok("GET", "/_emulator/faults")["rules"] == left
    assert emu.ok("DELETE", "/_emulator/faults") == {"rules": []}


def test_calls_counts(emu):
    pool_id = emu.ok("POST", "/_emulator/pools", {"users": [{"username": "c1"}], "groups": [{"name": "g"}]})["pool_id"]
    c = emu.client()
    assert emu.ok("DELETE", "/_emulator/calls") == {}
    assert emu.ok("GET", "/_emulator/calls") == {}
    for _ in range(3):
        c.list_users(UserPoolId=pool_id)
    c.list_groups(UserPoolId=pool_id)
    emu.ok("POST", "/_emulator/faults", {"rules": [{"operation": "ListUsersInGroup", "kind": "throttle", "count": 2}]})
    for _ in range(2):
        with pytest.raises(c.exceptions.TooManyRequestsException):
            c.list_users_in_group(UserPoolId=pool_id, GroupName="g")
    c.list_users_in_group(UserPoolId=pool_id, GroupName="g")
    with pytest.raises(c.exceptions.UserNotFoundException):
        c.admin_get_user(UserPoolId=pool_id, Username="ghost")
    expected = {"ListUsers": 3, "ListGroups": 1, "ListUsersInGroup": 3, "AdminGetUser": 1}
    assert emu.ok("GET", "/_emulator/calls") == expected
    assert emu.ok("GET", f"/_emulator/calls?pool_id={pool_id}") == expected
    assert emu.ok("GET", "/_emulator/calls?pool_id=us-east-1_zzz") == {}
    stats = emu.ok("GET", "/_emulator/stats")
    assert stats["total"] == 8 and stats["calls"] == expected
    reqs = emu.ok("GET", "/_emulator/requests?operation=ListUsersInGroup")["requests"]
    assert [r.get("fault") for r in reqs] == ["throttle", "throttle", None]
    assert [r["status"] for r in reqs] == [400, 400, 200]
    assert all(r["pool_id"] == pool_id and r["group"] == "g" and r["region"] == REGION for r in reqs)
    # control API calls are never counted
    emu.ok("GET", "/_emulator/faults")
    assert emu.ok("GET", "/_emulator/calls") == expected
    emu.ok("DELETE", "/_emulator/calls")
    assert emu.ok("GET", "/_emulator/calls") == {}


# --------------------------------------------------------------------------- AdminCreateUser invitations


def _invitations(emu, pool_id: str) -> list[dict]:
    return emu.ok("GET", f"/_emulator/pools/{pool_id}/invitations")["invitations"]


def _refused(c, message: str, **kw) -> None:
    with pytest.raises(c.exceptions.InvalidParameterException) as err:
        c.admin_create_user(**kw)
    assert err.value.response["Error"]["Message"] == message, err.value.response


def test_invitation_default_sms_refuses_email_only_user(emu):
    pool_id = emu.ok("POST", "/_emulator/pools", {})["pool_id"]
    c = emu.client()
    _refused(c, "No phone_number provided but desired delivery medium was SMS",
             UserPoolId=pool_id, Username="eve",
             UserAttributes=[{"Name": "email", "Value": "eve@example.com"}])
    with pytest.raises(c.exceptions.UserNotFoundException):
        c.admin_get_user(UserPoolId=pool_id, Username="eve")
    assert _invitations(emu, pool_id) == []
    c.admin_create_user(UserPoolId=pool_id, Username="sam",
                        UserAttributes=[{"Name": "phone_number", "Value": "+15555550101"}])
    assert _invitations(emu, pool_id) == [{
        "username": "sam", "mediums": ["SMS"], "destinations": {"SMS": "+15555550101"},
        "resend": False,
    }]


def test_invitation_by_email_is_recorded(emu):
    pool_id = emu.ok("POST", "/_emulator/pools", {})["pool_id"]
    c = emu.client()
    c.admin_create_user(UserPoolId=pool_id, Username="eve", DesiredDeliveryMediums=["EMAIL"],
                        UserAttributes=[{"Name": "email", "Value": "eve@example.com"}])
    assert c.admin_get_user(UserPoolId=pool_id, Username="eve")["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert _invitations(emu, pool_id) == [{
        "username": "eve", "mediums": ["EMAIL"],
        "destinations": {"EMAIL": "eve@example.com"}, "resend": False,
    }]
    # RESEND goes to the existing user's attributes again; a second create is moto's error.
    c.admin_create_user(UserPoolId=pool_id, Username="eve", MessageAction="RESEND",
                        DesiredDeliveryMediums=["EMAIL"])
    with pytest.raises(c.exceptions.UsernameExistsException):
        c.admin_create_user(UserPoolId=pool_id, Username="eve", DesiredDeliveryMediums=["EMAIL"])
    assert [(i["username"], i["resend"]) for i in _invitations(emu, pool_id)] == [
        ("eve", False), ("eve", True)]
    assert emu.ok("DELETE", f"/_emulator/pools/{pool_id}/invitations") == {"invitations": []}
    assert _invitations(emu, pool_id) == []
    status, _ = emu.call("GET", "/_emulator/pools/us-east-1_nope/invitations")
    assert status == 404


def test_invitation_suppressed_needs_no_attribute(emu):
    pool_id = emu.ok("POST", "/_emulator/pools", {})["pool_id"]
    c = emu.client()
    c.admin_create_user(UserPoolId=pool_id, Username="bare", MessageAction="SUPPRESS")
    c.admin_create_user(UserPoolId=pool_id, Username="mail", MessageAction="SUPPRESS",
                        DesiredDeliveryMediums=["SMS", "EMAIL"],
                        UserAttributes=[{"Name": "email", "Value": "m@example.com"}])
    assert {u["Username"] for u in c.list_users(UserPoolId=pool_id)["Users"]} == {"bare", "mail"}
    assert _invitations(emu, pool_id) == []


def test_invitation_bad_medium_or_action_is_a_validation_error(emu):
    pool_id = emu.ok("POST", "/_emulator/pools", {})["pool_id"]
    c = emu.client()
    email = [{"Name": "email", "Value": "x@example.com"}]
    _refused(c, "1 validation error detected: Value '[EMAIL, FAX]' at 'desiredDeliveryMediums' "
                "failed to satisfy constraint: Member must satisfy constraint: "
                "[Member must satisfy enum value set: [SMS, EMAIL]]",
             UserPoolId=pool_id, Username="x", DesiredDeliveryMediums=["EMAIL", "FAX"],
             UserAttributes=email)
    # checked even when nothing is to be sent
    _refused(c, "1 validation error detected: Value '[email]' at 'desiredDeliveryMediums' "
                "failed to satisfy constraint: Member must satisfy constraint: "
                "[Member must satisfy enum value set: [SMS, EMAIL]]",
             UserPoolId=pool_id, Username="x", DesiredDeliveryMediums=["email"],
             MessageAction="SUPPRESS", UserAttributes=email)
    _refused(c, "1 validation error detected: Value 'SURPRESS' at 'messageAction' failed to "
                "satisfy constraint: Member must satisfy enum value set: [SUPPRESS, RESEND]",
             UserPoolId=pool_id, Username="x", MessageAction="SURPRESS", UserAttributes=email)
    with pytest.raises(c.exceptions.InvalidParameterException) as err:
        c.admin_create_user(UserPoolId=pool_id, Username="x", MessageAction="NOPE",
                            DesiredDeliveryMediums=["PIGEON"], UserAttributes=email)
    assert err.value.response["Error"]["Message"].startswith("2 validation errors detected: ")
    assert c.list_users(UserPoolId=pool_id)["Users"] == []
    assert _invitations(emu, pool_id) == []


def test_invitation_needs_every_desired_medium(emu):
    """SMS and EMAIL both desired: the user needs a phone_number and an email (the API
    reference makes each attribute required by its medium)."""
    pool_id = emu.ok("POST", "/_emulator/pools", {})["pool_id"]
    c = emu.client()
    phone = [{"Name": "phone_number", "Value": "+15555550100"}]
    _refused(c, "No email provided but desired delivery medium was Email",
             UserPoolId=pool_id, Username="pat", DesiredDeliveryMediums=["SMS", "EMAIL"],
             UserAttributes=phone)
    assert c.list_users(UserPoolId=pool_id)["Users"] == []
    c.admin_create_user(UserPoolId=pool_id, Username="pat", DesiredDeliveryMediums=["SMS"],
                        UserAttributes=phone)
    c.admin_create_user(UserPoolId=pool_id, Username="kim", DesiredDeliveryMediums=["SMS", "EMAIL", "SMS"],
                        UserAttributes=phone + [{"Name": "email", "Value": "kim@example.com"}])
    assert _invitations(emu, pool_id) == [
        {"username": "pat", "mediums": ["SMS"], "destinations": {"SMS": "+15555550100"},
         "resend": False},
        {"username": "kim", "mediums": ["SMS", "EMAIL"],
         "destinations": {"SMS": "+15555550100", "EMAIL": "kim@example.com"}, "resend": False},
    ]


def test_invitation_to_email_username(emu):
    """In a pool signing in by email the username is the email attribute."""
    pool_id = emu.ok("POST", "/_emulator/pools", {"config": {"UsernameAttributes": ["email"]}})["pool_id"]
    c = emu.client()
    user = c.admin_create_user(UserPoolId=pool_id, Username="ann@example.com",
                               DesiredDeliveryMediums=["EMAIL"])["User"]
    assert _invitations(emu, pool_id) == [{
        "username": user["Username"], "mediums": ["EMAIL"],
        "destinations": {"EMAIL": "ann@example.com"}, "resend": False,
    }]


def test_concurrent_requests(emu):
    pool_id = emu.ok("POST", "/_emulator/pools", {"users": [{"username": "p"}]})["pool_id"]
    emu.ok("DELETE", "/_emulator/calls")
    emu.ok("POST", "/_emulator/faults", {"rules": [{"operation": "*", "kind": "delay", "delay_ms": 500, "count": 6}]})
    errors: list[BaseException] = []

    def work():
        try:
            emu.client().list_users(UserPoolId=pool_id)
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(6)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    assert not errors
    assert elapsed < 2.5, elapsed  # 6 x 500 ms served in parallel, not serially (3 s)
    assert emu.ok("GET", "/_emulator/stats")["max_in_flight"] >= 3
    assert emu.ok("GET", "/_emulator/calls") == {"ListUsers": 6}


# --------------------------------------------------------------------------- sample generator


def _snapshot(emu: Emulator, pool_id: str) -> dict:
    c = emu.client()
    users = [
        (u["Username"], sorted(attrs(u).items()), u["Enabled"], u["UserStatus"],
         u["UserCreateDate"].isoformat())
        for u in list_all_users(c, pool_id)
    ]
    groups = [
        (g["GroupName"], g.get("Description"), g.get("Precedence"), g.get("RoleArn"))
        for g in list_all_groups(c, pool_id)
    ]
    members = {g[0]: sorted(m["Username"] for m in list_all_members(c, pool_id, g[0])) for g in groups}
    return {"users": users, "groups": groups, "members": members}


def test_sample_is_realistic_and_deterministic():
    with emulator("--sample-users", "1200", "--sample-groups", "30", "--sample-seed", "7") as emu:
        line = emu.readline().split()
        assert line[0] == "SAMPLE_POOL" and line[2] == REGION
        cli_pool = line[1]
        snap_cli = _snapshot(emu, cli_pool)
        ans = emu.ok("POST", "/_emulator/sample", {"region": REGION, "users": 1200, "groups": 30, "seed": 7})
        assert ans["pool_id"] != cli_pool  # deterministic id already taken -> a fresh one
        assert _snapshot(emu, ans["pool_id"]) == snap_cli
        other = emu.ok("POST", "/_emulator/sample", {"users": 1200, "groups": 30, "seed": 8})
        assert _snapshot(emu, other["pool_id"])["users"] != snap_cli["users"]
        summary = emu.ok("GET", f"/_emulator/pools/{cli_pool}")
        schema = emu.client().describe_user_pool(UserPoolId=cli_pool)["UserPool"]["SchemaAttributes"]

    with emulator("--sample-users", "1200", "--sample-groups", "30", "--sample-seed", "7") as emu2:
        line = emu2.readline().split()
        assert line[1] == cli_pool  # same seed, fresh process: same pool id too
        assert _snapshot(emu2, line[1]) == snap_cli

    users, groups, members = snap_cli["users"], snap_cli["groups"], snap_cli["members"]
    n = len(users)
    assert n == 1200 and len(groups) == 30
    assert len({u[0] for u in users}) == n
    subs = [dict(u[1])["sub"] for u in users]
    assert len(set(subs)) == n
    disabled = sum(1 for u in users if not u[2])
    assert 0.02 * n <= disabled <= 0.09 * n
    statuses = summary["statuses"]
    assert 0.02 * n <= statuses.get("UNCONFIRMED", 0) <= 0.09 * n
    assert statuses.get("RESET_REQUIRED", 0) >= 1 and statuses.get("FORCE_CHANGE_PASSWORD", 0) >= 1
    assert statuses.get("EXTERNAL_PROVIDER", 0) >= 2
    for u in users:
        a = dict(u[1])
        assert "@" in a["email"] and a["name"] == f"{a['given_name']} {a['family_name']}"
        if u[3] == "EXTERNAL_PROVIDER":
            assert u[0].split("_", 1)[0] in ("Google", "Facebook", "SignInWithApple")
            assert json.loads(a["identities"])[0]["userId"] == u[0].split("_", 1)[1]
    frac = lambda key: sum(1 for u in users if key in dict(u[1])) / n  # noqa: E731
    assert 0.25 < frac("phone_number") < 0.55
    assert 0.1 < frac("preferred_username") < 0.3
    assert 0.55 < frac("custom:department") < 0.85
    assert 0.45 < frac("custom:employee_id") < 0.75
    assert {"custom:department", "custom:employee_id"} <= {a["Name"] for a in schema}

    sizes = {g: len(m) for g, m in members.items()}
    assert groups[0][0] == "all-staff" and sizes["all-staff"] == 300
    empty = [g for g, s in sizes.items() if s == 0]
    assert "archived-project" in empty
    assert all(s <= 60 for g, s in sizes.items() if g != "all-staff")
    assert sum(1 for g in groups if g[1]) == 30  # all have descriptions
    assert any(g[2] is not None for g in groups) and any(g[3] for g in groups)


# --------------------------------------------------------------------------- scale & reset


def test_seed_100k_users_150k_memberships_fast():
    n_users, n_groups = 100_000, 75
    users = [{"username": f"user{i:06d}",
              "attributes": {"email": f"user{i:06d}@example.com", "given_name": "U", "family_name": f"{i}"},
              "enabled": i % 20 != 0,
              "status": "UNCONFIRMED" if i % 19 == 0 else "CONFIRMED"} for i in range(n_users)]
    groups = [{"name": f"group {g:02d}", "precedence": g} for g in range(n_groups)]
    memberships = [[f"group {i % 50:02d}", f"user{i:06d}"] for i in range(n_users)]
    memberships += [[f"group {50 + (i // 2) % 25:02d}", f"user{i:06d}"] for i in range(0, n_users, 2)]
    assert len(memberships) == 150_000
    body = json.dumps({"users": users, "groups": groups, "memberships": memberships}).encode()
    with emulator() as emu:
        t0 = time.monotonic()
        status, ans = emu.call("POST", "/_emulator/pools", raw=body)
        elapsed = time.monotonic() - t0
        assert status == 200, ans
        print(f"\nseeded {n_users} users + {len(memberships)} memberships over HTTP in {elapsed:.2f} s")
        assert elapsed < 10, elapsed
        assert ans["added"] == {"users": n_users, "groups": n_groups, "memberships": 150_000}
        summary = emu.ok("GET", f"/_emulator/pools/{ans['pool_id']}")
        assert summary["users"] == n_users and summary["memberships"] == 150_000
        assert summary["disabled"] == n_users // 20
        c = emu.client()
        pool = c.describe_user_pool(UserPoolId=ans["pool_id"])["UserPool"]
        assert pool["EstimatedNumberOfUsers"] == n_users
        r = c.list_users(UserPoolId=ans["pool_id"], Limit=60)
        assert len(r["Users"]) == 60 and r["PaginationToken"]
        r = c.list_users_in_group(UserPoolId=ans["pool_id"], GroupName="group 00", Limit=60)
        assert len(r["Users"]) == 60 and r["NextToken"]

        t0 = time.monotonic()
        ans = emu.ok("POST", "/_emulator/sample", {"users": 100_000, "groups": 200, "seed": 1})
        elapsed = time.monotonic() - t0
        print(f"sample pool of 100000 users / 200 groups ({ans['added']['memberships']} memberships) in {elapsed:.2f} s")
        assert elapsed < 15, elapsed


def test_reset_wipes_everything():
    with emulator() as emu:
        pool_id = emu.ok("POST", "/_emulator/pools", {"users": [{"username": "r"}]})["pool_id"]
        c = emu.client()
        c.list_users(UserPoolId=pool_id)
        emu.ok("POST", "/_emulator/faults", {"rules": [{"operation": "*", "kind": "throttle", "count": 5}]})
        assert emu.ok("POST", "/_emulator/reset") == {"reset": True}
        assert emu.ok("GET", "/_emulator/calls") == {}
        assert emu.ok("GET", "/_emulator/faults") == {"rules": []}
        assert c.list_user_pools(MaxResults=60)["UserPools"] == []
        assert emu.ok("GET", "/_emulator/pools") == {"pools": []}
        with pytest.raises(c.exceptions.ResourceNotFoundException):
            c.list_users(UserPoolId=pool_id)
        # and it works again after the reset
        pool2 = emu.ok("POST", "/_emulator/pools", {"users": [{"username": "again"}]})["pool_id"]
        assert [u["Username"] for u in c.list_users(UserPoolId=pool2)["Users"]] == ["again"]


def test_seeding_while_listing(emu):
    """Control-API writes and AWS reads interleave safely (no errors, no deadlock)."""
    pool_id = emu.ok("POST", "/_emulator/pools", {"users": [{"username": f"s{i}"} for i in range(500)],
                                                  "groups": [{"name": "g"}]})["pool_id"]
    stop = time.monotonic() + 3
    errors: list[BaseException] = []
    pages = [0]

    def reader():
        c = emu.client()
        try:
            while time.monotonic() < stop:
                list_all_users(c, pool_id, limit=60)
                list_all_members(c, pool_id, "g")
                pages[0] += 1
        except BaseException as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    batch = 0
    while time.monotonic() < stop:
        users = [{"username": f"b{batch}-{i}"} for i in range(200)]
        emu.ok("POST", f"/_emulator/pools/{pool_id}/users", {"users": users})
        emu.ok("POST", f"/_emulator/pools/{pool_id}/memberships",
               {"memberships": [["g", u["username"]] for u in users[:50]]})
        batch += 1
    for t in threads:
        t.join()
    assert not errors, errors
    assert pages[0] > 0 and batch > 0
    assert emu.ok("GET", f"/_emulator/pools/{pool_id}")["users"] == 500 + 200 * batch


# --------------------------------------------------------------------------- latency & quotas


def _burst(url: str, op: str, body: dict, n: int, workers: int = 6) -> tuple[list, float]:
    """n raw AWS calls from `workers` threads: ([(status, headers, body)], seconds)."""
    t0 = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda _: _raw_aws_post(url, op, body), range(n)))
    return results, time.monotonic() - t0


def _assert_over_quota(result: tuple[int, dict, bytes], message: str) -> None:
    """The wire shape of a quota refusal: that of the `throttle` fault, AWS's message."""
    status, headers, body = result
    h = {k.lower(): v for k, v in headers.items()}
    assert status == 400
    assert h["x-amzn-errortype"] == "TooManyRequestsException"
    assert h["content-type"] == "application/x-amz-json-1.1"
    assert "x-amzn-requestid" in h
    assert json.loads(body) == {"__type": "TooManyRequestsException", "message": message}


def test_latency_is_added_to_aws_calls_only():
    with emulator("--latency-ms", "300", "--no-quota") as emu:
        assert emu.ok("GET", "/_emulator/quota")["disabled"] is True
        t0 = time.monotonic()
        emu.ok("GET", "/_emulator/health")
        assert time.monotonic() - t0 < 0.3  # control API calls get no latency
        pool_id = emu.ok("POST", "/_emulator/pools", {"users": [{"username": "l"}]})["pool_id"]
        c = emu.client()
        t0 = time.monotonic()
        c.list_users(UserPoolId=pool_id)
        assert time.monotonic() - t0 >= 0.3
        # fault answers wait too, as a network round trip would
        emu.ok("POST", "/_emulator/faults", {"rules": [{"operation": "ListUsers", "kind": "throttle"}]})
        t0 = time.monotonic()
        with pytest.raises(c.exceptions.TooManyRequestsException):
            c.list_users(UserPoolId=pool_id)
        assert time.monotonic() - t0 >= 0.3
        assert all(r["ms"] >= 300 for r in emu.ok("GET", "/_emulator/requests")["requests"])
        # the sleep is outside the state lock: parallel calls overlap
        results, elapsed = _burst(emu.url, "ListUsers", {"UserPoolId": pool_id}, 4, workers=4)
        assert [r[0] for r in results] == [200] * 4
        assert elapsed < 0.9, elapsed  # 4 x 300 ms serially would be 1.2 s


def test_quotas():
    with emulator("--quota-scale", "1") as emu:
        quota = emu.ok("GET", "/_emulator/quota")
        assert quota == {
            "scale": 1.0, "disabled": False,
            "rates": {"UserList": 30.0, "UserRead": 120.0, "UserResourceRead": 50.0,
                      "UserPoolResourceRead": 20.0, "UserPoolRead": 15.0, "UserUpdate": 25.0,
                      "UserCreation": 50.0, "LogFilter": 5.0},
            "per_pool_list_groups_get_group": 5.0,
        }
        pool_id = emu.ok("POST", "/_emulator/pools", {"users": [{"username": "q"}],
                                                      "groups": [{"name": "g"}]})["pool_id"]
        body = {"UserPoolId": pool_id}

        # UserList: 30 burst + 30/s; a burst of 80 gets some refused, at once
        results, elapsed = _burst(emu.url, "ListUsers", body, 80)
        ok = sum(1 for r in results if r[0] == 200)
        refused = [r for r in results if r[0] != 200]
        assert 30 <= ok <= 30 + 30 * elapsed + 1, (ok, elapsed)
        assert refused
        for r in refused:
            _assert_over_quota(r, "Rate exceeded (UserList quota)")
        # another category has its own bucket
        c = emu.client()
        for _ in range(5):
            c.describe_user_pool(UserPoolId=pool_id)

        # ListGroups: also 5/s per pool and operation
        t0 = time.monotonic()
        groups = [_raw_aws_post(emu.url, "ListGroups", body) for _ in range(12)]
        elapsed = time.monotonic() - t0
        groups_ok = sum(1 for r in groups if r[0] == 200)
        assert 5 <= groups_ok <= 5 + 5 * elapsed + 1, (groups_ok, elapsed)
        for r in groups:
            if r[0] != 200:
                _assert_over_quota(r, "Rate exceeded (ListGroups: 5 requests per second per user pool)")

        # a fault rule answers before the quota check: that call is not "throttled"
        emu.ok("POST", "/_emulator/faults", {"rules": [{"operation": "DescribeUserPool", "kind": "internal"}]})
        with pytest.raises(c.exceptions.InternalErrorException):
            c.describe_user_pool(UserPoolId=pool_id)

        # counted as calls, and as throttled, in stats and the request log
        n_users, n_groups = len(refused), 12 - groups_ok
        stats = emu.ok("GET", "/_emulator/stats")
        assert stats["calls"]["ListUsers"] == 80 and stats["calls"]["ListGroups"] == 12
        assert stats["throttled"] == n_users + n_groups
        assert stats["throttled_by_operation"] == {"ListGroups": n_groups, "ListUsers": n_users}
        assert stats["quota"] == quota
        log = emu.ok("GET", "/_emulator/requests")["requests"]
        throttled = [e for e in log if e.get("throttled")]
        assert len(throttled) == n_users + n_groups
        assert all(e["status"] == 400 and "fault" not in e for e in throttled)
        assert [e for e in log if e.get("fault")][0].get("throttled") is None

        # turned off at run time: nothing refused
        off = emu.ok("POST", "/_emulator/quota", {"disabled": True})
        assert off["disabled"] is True and off["scale"] == 1.0
        results, _ = _burst(emu.url, "ListUsers", body, 40)
        assert [r[0] for r in results] == [200] * 40

        # a scale alone turns them on again, with every bucket full
        on = emu.ok("POST", "/_emulator/quota", {"scale": 0.1})
        assert on["disabled"] is False and on["rates"]["UserList"] == pytest.approx(3.0)
        statuses = [_raw_aws_post(emu.url, "ListUsers", body)[0] for _ in range(10)]
        assert statuses[:3] == [200] * 3 and 400 in statuses

        for bad_body in ({"scale": 0}, {"scale": -1}, {"scale": "2"}, {"scale": True},
                         {"disabled": "yes"}, {"bogus": 1}, [1]):
            status, ans = emu.call("POST", "/_emulator/quota", bad_body)
            assert status == 400 and isinstance(ans["error"], str), (bad_body, ans)
        assert emu.call("DELETE", "/_emulator/quota")[0] == 405
        assert emu.ok("GET", "/_emulator/quota") == on

        # reset zeroes the counters but keeps the quota settings (as the fast emulator)
        emu.ok("POST", "/_emulator/reset")
        stats = emu.ok("GET", "/_emulator/stats")
        assert stats["throttled"] == 0 and stats["throttled_by_operation"] == {}
        assert stats["quota"] == on


def test_quotas_are_off_by_default(emu):
    assert emu.ok("GET", "/_emulator/quota")["disabled"] is True
    pool_id = emu.ok("POST", "/_emulator/pools", {"users": [{"username": "d"}]})["pool_id"]
    results, _ = _burst(emu.url, "ListUsers", {"UserPoolId": pool_id}, 80)
    assert [r[0] for r in results] == [200] * 80
    assert [_raw_aws_post(emu.url, "ListGroups", {"UserPoolId": pool_id})[0] for _ in range(12)] == [200] * 12
    stats = emu.ok("GET", "/_emulator/stats")
    assert stats["throttled"] == 0 and stats["throttled_by_operation"] == {}
    assert stats["quota"]["disabled"] is True


def test_bad_quota_scale_exits():
    proc = subprocess.run([sys.executable, EMULATOR, "--port", "0", "--quota-scale", "0"],
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == b""
    assert b"--quota-scale must be a positive number" in proc.stderr
