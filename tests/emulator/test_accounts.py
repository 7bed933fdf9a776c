"""Several AWS accounts in one emulator: STS AssumeRole, and Cognito / CloudWatch Logs calls
acting in the account of the key that signs them (accounts.py; README "Accounts and STS").

Run with the emulator's virtualenv (see test_emulator.py).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

from test_emulator import REGION, _raw_aws_post, emulator

DEFAULT = "123456789012"  # moto's default account: that of the tests' dummy keys
ACCOUNT_B = "222233334444"
ROLE_B = f"arn:aws:iam::{ACCOUNT_B}:role/baton-reader"
STS_NS = "{https://sts.amazonaws.com/doc/2011-06-15/}"
CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)


@pytest.fixture(scope="module")
def emu():
    with emulator() as e:
        yield e


def _client(emu, service: str, creds: dict | None = None, region: str = REGION):
    """A boto3 client signed with the dummy keys, or with AssumeRole's credentials."""
    if creds is None:
        keys = dict(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
    else:
        keys = dict(aws_access_key_id=creds["AccessKeyId"],
                    aws_secret_access_key=creds["SecretAccessKey"],
                    aws_session_token=creds["SessionToken"])
    return boto3.client(service, endpoint_url=emu.url, region_name=region, config=CONFIG, **keys)


def _assume(emu, role_arn: str = ROLE_B, **kw) -> dict:
    return _client(emu, "sts").assume_role(RoleArn=role_arn, RoleSessionName="baton", **kw)


def _signed_post(url: str, data: bytes, key: str, service: str,
                 headers: dict[str, str]) -> tuple[int, dict, bytes]:
    """A POST signed (in form: the emulator does not check signatures) with `key` for
    `service`, as the AWS SDKs send it."""
    req = urllib.request.Request(url + "/", data=data, method="POST")
    for name, value in headers.items():
        req.add_header(name, value)
    req.add_header("Authorization",
                   f"AWS4-HMAC-SHA256 Credential={key}/20240101/{REGION}/{service}/aws4_request, "
                   "SignedHeaders=host, Signature=00")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def _raw_sts(url: str, params: dict, key: str = "AKIDEXAMPLE") -> tuple[int, dict, bytes]:
    """A form-encoded STS request as the Rust SDK sends it."""
    data = urllib.parse.urlencode({"Version": "2011-06-15", **params}).encode()
    return _signed_post(url, data, key, "sts",
                        {"Content-Type": "application/x-www-form-urlencoded"})


def _raw_cognito(url: str, op: str, body: dict, key: str) -> int:
    status, _, _ = _signed_post(url, json.dumps(body).encode(), key, "cognito-idp", {
        "X-Amz-Target": f"AWSCognitoIdentityProviderService.{op}",
        "Content-Type": "application/x-amz-json-1.1",
    })
    return status


def _sts_error(result: tuple[int, dict, bytes]) -> tuple[int, str, str, str]:
    """(status, Type, Code, Message) of an STS XML error answer, checking its shape."""
    status, headers, body = result
    h = {k.lower(): v for k, v in headers.items()}
    assert h["content-type"].startswith("text/xml")
    root = ET.fromstring(body)
    assert root.tag == f"{STS_NS}ErrorResponse"
    error = root.find(f"{STS_NS}Error")
    assert root.find(f"{STS_NS}RequestId").text == h["x-amzn-requestid"]
    return (status, error.find(f"{STS_NS}Type").text, error.find(f"{STS_NS}Code").text,
            error.find(f"{STS_NS}Message").text)


def _code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def _usernames(client, pool_id: str) -> list[str]:
    return [u["Username"] for u in client.list_users(UserPoolId=pool_id)["Users"]]


# --------------------------------------------------------------------------- STS


def test_assume_role_answer(emu):
    before = dt.datetime.now(dt.timezone.utc)
    r = _assume(emu, ExternalId="ext-123", DurationSeconds=900)
    creds, user = r["Credentials"], r["AssumedRoleUser"]
    assert re.fullmatch(r"ASIA[A-Z0-9]{16}", creds["AccessKeyId"])
    assert creds["SecretAccessKey"] and creds["SessionToken"]
    assert before + dt.timedelta(seconds=890) < creds["Expiration"] < before + dt.timedelta(seconds=960)
    assert user["Arn"] == f"arn:aws:sts::{ACCOUNT_B}:assumed-role/baton-reader/baton"
    assert re.fullmatch(r"AROA[A-Z0-9]{17}:baton", user["AssumedRoleId"])

    # The issued key maps back to the role's account, with a stable role id.
    me = _client(emu, "sts", creds).get_caller_identity()
    assert (me["Account"], me["Arn"], me["UserId"]) == (ACCOUNT_B, user["Arn"], user["AssumedRoleId"])
    again = _assume(emu)["AssumedRoleUser"]["AssumedRoleId"]
    assert again.split(":")[0] == user["AssumedRoleId"].split(":")[0]
    assert _client(emu, "sts").get_caller_identity()["Account"] == DEFAULT

    # The raw answer, as the Rust SDK reads it.
    status, headers, body = _raw_sts(emu.url, {"Action": "AssumeRole", "RoleArn": ROLE_B,
                                               "RoleSessionName": "raw", "ExternalId": "x-1"})
    assert status == 200 and headers["Content-Type"].startswith("text/xml")
    root = ET.fromstring(body)
    assert root.tag == f"{STS_NS}AssumeRoleResponse"
    result = root.find(f"{STS_NS}AssumeRoleResult")
    for member in ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"):
        assert result.find(f"{STS_NS}Credentials/{STS_NS}{member}").text
    assert result.find(f"{STS_NS}AssumedRoleUser/{STS_NS}Arn").text.endswith("/baton-reader/raw")

    # Logged like any AWS call, in the caller's account, with the role asked for.
    log = emu.ok("GET", "/_emulator/requests?operation=AssumeRole")["requests"]
    assert {"account": DEFAULT, "role_arn": ROLE_B, "session_name": "raw", "external_id": "x-1",
            "status": 200}.items() <= log[-1].items()
    assert emu.ok("GET", "/_emulator/calls")["AssumeRole"] >= 3


@pytest.mark.parametrize("params, status, code, message", [
    ({"RoleArn": "not-an-arn-but-20-chars-long"}, 400, "ValidationError",
     "not-an-arn-but-20-chars-long is invalid"),
    ({"RoleArn": f"arn:aws:s3:::{ACCOUNT_B}-bucket"}, 403, "AccessDenied",
     f"User: arn:aws:iam::{DEFAULT}:user/baton-test is not authorized to perform: "
     f"sts:AssumeRole on resource: arn:aws:s3:::{ACCOUNT_B}-bucket"),
    ({"RoleArn": "arn:aws:iam::1234:role/short-account"}, 403, "AccessDenied", None),
    ({"RoleArn": "short"}, 400, "ValidationError",
     "1 validation error detected: Value 'short' at 'roleArn' failed to satisfy constraint: "
     "Member must have length greater than or equal to 20"),
    ({"RoleSessionName": "a b"}, 400, "ValidationError",
     "1 validation error detected: Value 'a b' at 'roleSessionName' failed to satisfy constraint: "
     r"Member must satisfy regular expression pattern: [\w+=,.@-]*"),
    ({"RoleSessionName": "x" * 65, "DurationSeconds": "100"}, 400, "ValidationError",
     f"2 validation errors detected: Value '{'x' * 65}' at 'roleSessionName' failed to satisfy "
     "constraint: Member must have length less than or equal to 64; Value '100' at "
     "'durationSeconds' failed to satisfy constraint: Member must have value greater than or "
     "equal to 900"),
    ({"ExternalId": "e"}, 400, "ValidationError",
     "1 validation error detected: Value 'e' at 'externalId' failed to satisfy constraint: "
     "Member must have length greater than or equal to 2"),
    ({"RoleArn": None}, 400, "ValidationError",
     "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: "
     "Member must not be null"),
])
def test_assume_role_refusals(emu, params, status, code, message):
    request = {"Action": "AssumeRole", "RoleArn": ROLE_B, "RoleSessionName": "baton", **params}
    request = {k: v for k, v in request.items() if v is not None}
    got = _sts_error(_raw_sts(emu.url, request))
    assert got[:3] == (status, "Sender", code)
    if message is not None:
        assert got[3] == message


def test_assume_role_refusal_through_boto3(emu):
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        _assume(emu, "this-is-not-a-role-arn")
    assert _code(ei) == "ValidationError"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_sts_fault_rules(emu):
    emu.ok("POST", "/_emulator/faults", {"rules": [
        {"operation": "AssumeRole", "kind": "access_denied"},
        {"operation": "AssumeRole", "kind": "throttle"},
        {"operation": "AssumeRole", "kind": "error", "status": 400,
         "error_type": "RegionDisabledException", "message": "STS is not activated"},
    ]})
    status, kind, code, message = _sts_error(
        _raw_sts(emu.url, {"Action": "AssumeRole", "RoleArn": ROLE_B, "RoleSessionName": "f"}))
    assert (status, kind, code) == (403, "Sender", "AccessDenied")
    assert message == (f"User: arn:aws:iam::{DEFAULT}:user/baton-test is not authorized to "
                       f"perform: sts:AssumeRole on resource: {ROLE_B}")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        _assume(emu)
    assert _code(ei) == "Throttling"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        _assume(emu)
    assert (_code(ei), ei.value.response["Error"]["Message"]) == (
        "RegionDisabledException", "STS is not activated")
    assert emu.ok("GET", "/_emulator/faults") == {"rules": []}
    _assume(emu)  # rules used up


def test_role_chaining(emu):
    creds_b = _assume(emu)["Credentials"]
    sts_b = _client(emu, "sts", creds_b)
    role_c = "arn:aws:iam::555566667777:role/next"
    creds_c = sts_b.assume_role(RoleArn=role_c, RoleSessionName="hop")["Credentials"]
    me = _client(emu, "sts", creds_c).get_caller_identity()
    assert (me["Account"], me["Arn"]) == ("555566667777", "arn:aws:sts::555566667777:assumed-role/next/hop")
    # A refusal names the assumed role's session as the caller.
    status, _, code, message = _sts_error(_raw_sts(
        emu.url, {"Action": "AssumeRole", "RoleArn": "arn:aws:s3:::not-a-role-at-all",
                  "RoleSessionName": "hop"}, key=creds_b["AccessKeyId"]))
    assert (status, code) == (403, "AccessDenied")
    assert message.startswith(f"User: arn:aws:sts::{ACCOUNT_B}:assumed-role/baton-reader/baton is not")
    log = emu.ok("GET", "/_emulator/requests?operation=AssumeRole")["requests"]
    assert [(e["account"], e["role_arn"]) for e in log[-2:]] == [
        (ACCOUNT_B, role_c), (ACCOUNT_B, "arn:aws:s3:::not-a-role-at-all")]


# --------------------------------------------------------------------------- accounts


def test_pools_live_in_their_account(emu):
    a = emu.ok("POST", "/_emulator/pools", {"name": "pool-a", "users": [{"username": "alice"}]})
    b = emu.ok("POST", "/_emulator/pools", {"name": "pool-b", "account": ACCOUNT_B,
                                            "users": [{"username": "bob"}, {"username": "bea"}],
                                            "groups": [{"name": "readers"}],
                                            "memberships": [["readers", "bob"]]})
    assert a["account"] == DEFAULT and b["account"] == ACCOUNT_B
    assert a["arn"] == f"arn:aws:cognito-idp:{REGION}:{DEFAULT}:userpool/{a['pool_id']}"
    assert b["arn"] == f"arn:aws:cognito-idp:{REGION}:{ACCOUNT_B}:userpool/{b['pool_id']}"

    creds = _assume(emu, ExternalId="ext-123")["Credentials"]
    as_b = _client(emu, "cognito-idp", creds)
    default = _client(emu, "cognito-idp")

    # With the role's credentials: B's pool, never A's (Cognito has no resource policies).
    assert _usernames(as_b, b["pool_id"]) == ["bob", "bea"]
    assert [u["Username"] for u in as_b.list_users_in_group(
        UserPoolId=b["pool_id"], GroupName="readers")["Users"]] == ["bob"]
    assert as_b.describe_user_pool(UserPoolId=b["pool_id"])["UserPool"]["Arn"] == b["arn"]
    with pytest.raises(as_b.exceptions.ResourceNotFoundException):
        as_b.list_users(UserPoolId=a["pool_id"])
    with pytest.raises(as_b.exceptions.ResourceNotFoundException):
        as_b.admin_get_user(UserPoolId=a["pool_id"], Username="alice")
    listed_b = {p["Id"] for p in as_b.list_user_pools(MaxResults=60)["UserPools"]}
    assert b["pool_id"] in listed_b and a["pool_id"] not in listed_b

    # With the dummy keys: the default account, as before.
    assert _usernames(default, a["pool_id"]) == ["alice"]
    with pytest.raises(default.exceptions.ResourceNotFoundException):
        default.list_users(UserPoolId=b["pool_id"])
    listed_a = {p["Id"] for p in default.list_user_pools(MaxResults=60)["UserPools"]}
    assert a["pool_id"] in listed_a and b["pool_id"] not in listed_a

    # A pool created through the API with the role's credentials is B's.
    made = as_b.create_user_pool(PoolName="made-in-b")["UserPool"]
    assert made["Arn"] == f"arn:aws:cognito-idp:{REGION}:{ACCOUNT_B}:userpool/{made['Id']}"
    as_b.admin_create_user(UserPoolId=made["Id"], Username="carl", MessageAction="SUPPRESS")
    with pytest.raises(default.exceptions.ResourceNotFoundException):
        default.admin_create_user(UserPoolId=made["Id"], Username="dan", MessageAction="SUPPRESS")

    # The control API finds a pool in whichever account holds it.
    pools = {p["pool_id"]: p for p in emu.ok("GET", "/_emulator/pools")["pools"]}
    assert pools[a["pool_id"]]["account"] == DEFAULT
    assert pools[b["pool_id"]]["account"] == ACCOUNT_B and pools[b["pool_id"]]["users"] == 2
    assert pools[made["Id"]]["account"] == ACCOUNT_B
    only_b = emu.ok("GET", f"/_emulator/pools?account={ACCOUNT_B}")["pools"]
    assert {p["pool_id"] for p in only_b} >= {b["pool_id"], made["Id"]}
    assert all(p["account"] == ACCOUNT_B for p in only_b)
    summary = emu.ok("GET", f"/_emulator/pools/{b['pool_id']}")
    assert (summary["account"], summary["arn"], summary["users"]) == (ACCOUNT_B, b["arn"], 2)
    added = emu.ok("POST", f"/_emulator/pools/{b['pool_id']}/users", {"users": [{"username": "bo"}]})
    assert added["account"] == ACCOUNT_B and added["added"]["users"] == 1
    emu.ok("POST", f"/_emulator/pools/{b['pool_id']}/memberships", {"memberships": [["readers", "bo"]]})
    emu.ok("PATCH", f"/_emulator/pools/{b['pool_id']}/users/bea", {"enabled": False})
    assert [u["Enabled"] for u in as_b.list_users(UserPoolId=b["pool_id"])["Users"]] == [True, False, True]
    emu.ok("DELETE", f"/_emulator/pools/{b['pool_id']}/users/bo")
    assert _usernames(as_b, b["pool_id"]) == ["bob", "bea"]

    # The request log says which account each call acted in.
    log = emu.ok("GET", "/_emulator/requests?operation=ListUsers")["requests"]
    by_pool = {(e["pool_id"], e["account"], e["status"]) for e in log}
    assert (b["pool_id"], ACCOUNT_B, 200) in by_pool
    assert (a["pool_id"], ACCOUNT_B, 400) in by_pool
    assert (a["pool_id"], DEFAULT, 200) in by_pool
    assert (b["pool_id"], DEFAULT, 400) in by_pool

    emu.ok("DELETE", f"/_emulator/pools/{b['pool_id']}")
    with pytest.raises(as_b.exceptions.ResourceNotFoundException):
        as_b.list_users(UserPoolId=b["pool_id"])
    assert emu.call("GET", f"/_emulator/pools/{b['pool_id']}")[0] == 404


def test_control_api_account_checks(emu):
    for bad_account in ("1234", 222233334444, "22223333444a", ""):
        status, ans = emu.call("POST", "/_emulator/pools", {"account": bad_account})
        assert status == 400 and "'account' must be a 12-digit AWS account id" in ans["error"]
    # Pool ids are unique across accounts.
    pid = f"{REGION}_SameId123"
    emu.ok("POST", "/_emulator/pools", {"pool_id": pid})
    status, ans = emu.call("POST", "/_emulator/pools", {"pool_id": pid, "account": ACCOUNT_B})
    assert status == 409, ans
    sample = emu.ok("POST", "/_emulator/sample", {"users": 30, "groups": 5, "seed": 7,
                                                  "account": "999988887777"})
    assert sample["account"] == "999988887777" and ":999988887777:userpool/" in sample["arn"]
    creds = _assume(emu, "arn:aws:iam::999988887777:role/path/to/reader")["Credentials"]
    as_c = _client(emu, "cognito-idp", creds)
    assert len(as_c.list_users(UserPoolId=sample["pool_id"], Limit=60)["Users"]) == 30
    roles = [g.get("RoleArn") for g in as_c.list_groups(UserPoolId=sample["pool_id"])["Groups"]]
    assert all(r.startswith("arn:aws:iam::999988887777:role/") for r in roles if r)


def test_cloudwatch_logs_per_account(emu):
    creds = _assume(emu)["Credentials"]
    logs_b, logs_default = _client(emu, "logs", creds), _client(emu, "logs")
    logs_b.create_log_group(logGroupName="/b/only")
    groups_b = logs_b.describe_log_groups(logGroupNamePrefix="/b/")["logGroups"]
    assert [g["arn"] for g in groups_b] == [f"arn:aws:logs:{REGION}:{ACCOUNT_B}:log-group:/b/only:*"]
    assert logs_default.describe_log_groups(logGroupNamePrefix="/b/")["logGroups"] == []
    log = emu.ok("GET", "/_emulator/requests?operation=CreateLogGroup")["requests"]
    assert log[-1]["account"] == ACCOUNT_B


def test_default_account_from_environment(monkeypatch):
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "111122223333")
    with emulator() as emu:
        pool = emu.ok("POST", "/_emulator/pools", {"users": [{"username": "x"}]})
        assert pool["account"] == "111122223333"
        c = _client(emu, "cognito-idp")
        assert c.describe_user_pool(UserPoolId=pool["pool_id"])["UserPool"]["Arn"] == pool["arn"]
        assert _client(emu, "sts").get_caller_identity()["Account"] == "111122223333"
        # The environment variable no longer pins every request to one account.
        creds = _assume(emu)["Credentials"]
        assert _client(emu, "sts", creds).get_caller_identity()["Account"] == ACCOUNT_B
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            _client(emu, "cognito-idp", creds).list_users(UserPoolId=pool["pool_id"])
        assert _code(ei) == "ResourceNotFoundException"


# --------------------------------------------------------------------------- quotas


def test_quotas_are_per_account():
    # Scale 0.02: UserList holds 1 token and refills 0.6 per second, per account and Region.
    with emulator("--quota-scale", "0.02") as emu:
        a = emu.ok("POST", "/_emulator/pools", {"users": [{"username": "a"}]})["pool_id"]
        b = emu.ok("POST", "/_emulator/pools", {"account": ACCOUNT_B,
                                                "users": [{"username": "b"}]})["pool_id"]
        key_b = _assume(emu)["Credentials"]["AccessKeyId"]  # AssumeRole is in no category

        # Exhaust account A's UserList bucket.
        with ThreadPoolExecutor(6) as ex:
            burst = list(ex.map(lambda _: _raw_aws_post(emu.url, "ListUsers", {"UserPoolId": a}),
                                range(12)))
        assert 400 in [r[0] for r in burst]
        assert _raw_aws_post(emu.url, "ListUsers", {"UserPoolId": a})[0] == 400
        # Account B's bucket (same Region, same category) is untouched, then spent alike.
        assert _raw_cognito(emu.url, "ListUsers", {"UserPoolId": b}, key_b) == 200
        assert _raw_cognito(emu.url, "ListUsers", {"UserPoolId": b}, key_b) == 400
        # Another category of account A still has its own bucket.
        assert _raw_aws_post(emu.url, "DescribeUserPool", {"UserPoolId": a})[0] == 200

        log = emu.ok("GET", "/_emulator/requests?operation=ListUsers")["requests"]
        throttled = {(e["account"], e["pool_id"]) for e in log if e.get("throttled")}
        assert throttled == {(DEFAULT, a), (ACCOUNT_B, b)}
