"""Self-test of auth_events.py through the emulator: feature plans, the threat-protection
tier check, AdminListUserAuthEvents, the auth-events control API and recorded sign-ins.

Run as test_emulator.py says; each test talks to a real emulator subprocess over HTTP.
"""

from __future__ import annotations

import json
import time

import botocore.exceptions
import pytest

from test_emulator import _raw_aws_post, emulator, q

PLUS_AUDIT = {"UserPoolTier": "PLUS", "UserPoolAddOns": {"AdvancedSecurityMode": "AUDIT"}}
PASSWORD = "Corr3ct-Horse!"


@pytest.fixture(scope="module")
def emu():
    with emulator() as e:
        yield e


def _pool(emu, users=("alice", "bob"), config=None) -> str:
    body = {"users": [{"username": u, "attributes": {"email": f"{u}@example.com"}} for u in users]}
    if config is not None:
        body["config"] = config
    return emu.ok("POST", "/_emulator/pools", body)["pool_id"]


def _seed(emu, pool_id: str, events: list[dict]) -> None:
    assert emu.ok("POST", f"/_emulator/pools/{pool_id}/auth-events", {"events": events}) == {
        "added": len(events)
    }


def _error(excinfo) -> tuple[str, str, int]:
    r = excinfo.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def _list_all(c, pool_id: str, username: str, limit: int) -> tuple[list[dict], int]:
    out, token, pages = [], None, 0
    while True:
        args = {"UserPoolId": pool_id, "Username": username, "MaxResults": limit}
        if token:
            args["NextToken"] = token
        r = c.admin_list_user_auth_events(**args)
        assert len(r["AuthEvents"]) <= limit
        out.extend(r["AuthEvents"])
        pages += 1
        token = r.get("NextToken")
        if not token:
            return out, pages
        assert pages < 100


# --------------------------------------------------------------------------- feature plan


def test_pools_default_to_the_essentials_tier(emu):
    c = emu.client()
    created = c.create_user_pool(PoolName="plain")["UserPool"]
    assert created["UserPoolTier"] == "ESSENTIALS"
    assert c.describe_user_pool(UserPoolId=created["Id"])["UserPool"]["UserPoolTier"] == "ESSENTIALS"
    assert c.create_user_pool(PoolName="lite", UserPoolTier="LITE")["UserPool"]["UserPoolTier"] == "LITE"
    for pool_id in (
        _pool(emu),
        emu.ok("POST", "/_emulator/sample", {"users": 3, "groups": 2, "seed": 7})["pool_id"],
    ):
        assert c.describe_user_pool(UserPoolId=pool_id)["UserPool"]["UserPoolTier"] == "ESSENTIALS"

    # UpdateUserPool resets what it omits, the tier (and the add-ons) included.
    plus = c.create_user_pool(PoolName="plus", **PLUS_AUDIT)["UserPool"]["Id"]
    assert c.describe_user_pool(UserPoolId=plus)["UserPool"]["UserPoolTier"] == "PLUS"
    c.update_user_pool(UserPoolId=plus)
    described = c.describe_user_pool(UserPoolId=plus)["UserPool"]
    assert described["UserPoolTier"] == "ESSENTIALS"
    assert "UserPoolAddOns" not in described


def test_threat_protection_needs_the_plus_tier(emu):
    c = emu.client()
    before = len(c.list_user_pools(MaxResults=60)["UserPools"])
    for extra in ({}, {"UserPoolTier": "ESSENTIALS"}, {"UserPoolTier": "LITE"}):
        for mode in ("AUDIT", "ENFORCED"):
            with pytest.raises(c.exceptions.FeatureUnavailableInTierException) as ei:
                c.create_user_pool(PoolName="p", UserPoolAddOns={"AdvancedSecurityMode": mode}, **extra)
            assert _error(ei) == (
                "FeatureUnavailableInTierException",
                "Threat protection requires the Plus feature plan", 400,
            )
    c.create_user_pool(PoolName="off", UserPoolAddOns={"AdvancedSecurityMode": "OFF"})
    pool_id = c.create_user_pool(PoolName="p", **PLUS_AUDIT)["UserPool"]["Id"]
    assert len(c.list_user_pools(MaxResults=60)["UserPools"]) == before + 2

    # An update naming the add-ons but not the tier is on ESSENTIALS: refused, pool unchanged.
    with pytest.raises(c.exceptions.FeatureUnavailableInTierException):
        c.update_user_pool(UserPoolId=pool_id, UserPoolAddOns={"AdvancedSecurityMode": "ENFORCED"})
    described = c.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    assert (described["UserPoolTier"], described["UserPoolAddOns"]) == ("PLUS", {"AdvancedSecurityMode": "AUDIT"})
    c.update_user_pool(UserPoolId=pool_id, UserPoolTier="PLUS",
                       UserPoolAddOns={"AdvancedSecurityMode": "ENFORCED"})
    assert c.describe_user_pool(UserPoolId=pool_id)["UserPool"]["UserPoolAddOns"] == {
        "AdvancedSecurityMode": "ENFORCED"
    }

    # Enum values outside the model: validation errors, AWS-style.
    with pytest.raises(c.exceptions.InvalidParameterException) as ei:
        c.create_user_pool(PoolName="p", UserPoolTier="GOLD",
                           UserPoolAddOns={"AdvancedSecurityMode": "LOUD"})
    assert _error(ei) == (
        "InvalidParameterException",
        "2 validation errors detected: Value 'LOUD' at 'userPoolAddOns.advancedSecurityMode' "
        "failed to satisfy constraint: Member must satisfy enum value set: [OFF, AUDIT, ENFORCED]; "
        "Value 'GOLD' at 'userPoolTier' failed to satisfy constraint: Member must satisfy enum "
        "value set: [LITE, ESSENTIALS, PLUS]", 400,
    )
    with pytest.raises(c.exceptions.InvalidParameterException) as ei:
        c.update_user_pool(UserPoolId=pool_id, UserPoolTier="plus")
    assert _error(ei)[1] == ("1 validation error detected: Value 'plus' at 'userPoolTier' failed "
                             "to satisfy constraint: Member must satisfy enum value set: "
                             "[LITE, ESSENTIALS, PLUS]")
    assert c.describe_user_pool(UserPoolId=pool_id)["UserPool"]["UserPoolTier"] == "PLUS"
    assert len(c.list_user_pools(MaxResults=60)["UserPools"]) == before + 2

    # The control API checks `config` the same way and creates nothing.
    pools = emu.ok("GET", "/_emulator/pools")["pools"]
    for config, word in (
        ({"UserPoolAddOns": {"AdvancedSecurityMode": "ENFORCED"}}, "FeatureUnavailableInTierException"),
        ({"UserPoolTier": "PLATINUM"}, "userPoolTier"),
        ({"UserPoolTier": "PLUS", "UserPoolAddOns": {}}, "Member must not be null"),
    ):
        status, ans = emu.call("POST", "/_emulator/pools", {"users": [{"username": "x"}], "config": config})
        assert status == 400 and word in ans["error"], (config, ans)
    assert emu.ok("GET", "/_emulator/pools")["pools"] == pools
    plus = _pool(emu, config=PLUS_AUDIT)
    assert c.describe_user_pool(UserPoolId=plus)["UserPool"]["UserPoolTier"] == "PLUS"


# --------------------------------------------------------------------------- AdminListUserAuthEvents


def test_events_newest_first_and_paged(emu):
    pool_id = _pool(emu, config=PLUS_AUDIT)
    c = emu.client()
    # Ten events for alice, in no particular order, two pairs with equal dates (the later
    # seeded listed first); their ips name them.
    dates = [100, 500, 300, 300, 900, 200, 700, 700, 400, 800]
    _seed(emu, pool_id, [
        {"username": "alice", "at": at, "ip": f"10.0.0.{i}"} for i, at in enumerate(dates)
    ] + [{"username": "bob", "at": "2024-05-01T12:00:00Z", "type": "PasswordChange",
          "response": "Fail", "risk": "AccountTakeover", "ip": "10.9.9.9"},
         {"username": "bob", "at": "2024-05-01T12:00:00+01:00",
          "challenges": [["Password", "Success"], ["Mfa", "Failure"]]}])
    expected_ips = ["10.0.0.4", "10.0.0.9", "10.0.0.7", "10.0.0.6", "10.0.0.1", "10.0.0.8",
                    "10.0.0.3", "10.0.0.2", "10.0.0.5", "10.0.0.0"]

    full = c.admin_list_user_auth_events(UserPoolId=pool_id, Username="alice")
    assert "NextToken" not in full
    assert [e["EventContextData"]["IpAddress"] for e in full["AuthEvents"]] == expected_ips
    first = full["AuthEvents"][0]
    assert first["EventType"] == "SignIn" and first["EventResponse"] == "Pass"
    assert first["EventRisk"] == {"RiskDecision": "NoRisk", "CompromisedCredentialsDetected": False}
    assert first["ChallengeResponses"] == [{"ChallengeName": "Password", "ChallengeResponse": "Success"}]
    assert first["CreationDate"].timestamp() == 900
    assert len({e["EventId"] for e in full["AuthEvents"]}) == 10
    zero = c.admin_list_user_auth_events(UserPoolId=pool_id, Username="alice", MaxResults=0)
    assert zero["AuthEvents"] == full["AuthEvents"] and "NextToken" not in zero

    for limit, n_pages in ((1, 10), (3, 4), (5, 2), (10, 1), (60, 1)):
        events, pages = _list_all(c, pool_id, "alice", limit)
        assert pages == n_pages, limit
        assert [e["EventId"] for e in events] == [e["EventId"] for e in full["AuthEvents"]], limit

    # CreationDate is epoch seconds on the wire (awsJson1_1).
    status, _, body = _raw_aws_post(emu.url, "AdminListUserAuthEvents",
                                    {"UserPoolId": pool_id, "Username": "bob"})
    assert status == 200
    bob = json.loads(body)["AuthEvents"]
    assert [e["CreationDate"] for e in bob] == [1714564800, 1714561200]
    assert bob[0]["EventType"] == "PasswordChange" and bob[0]["ChallengeResponses"] == []
    assert bob[0]["EventRisk"]["RiskDecision"] == "AccountTakeover"
    assert bob[0]["EventResponse"] == "Fail"
    assert bob[1]["ChallengeResponses"][1] == {"ChallengeName": "Mfa", "ChallengeResponse": "Failure"}
    assert bob[1]["EventContextData"] == {"IpAddress": "192.0.2.1"}

    # Tokens: only one handed out for this user's listing.
    token = c.admin_list_user_auth_events(UserPoolId=pool_id, Username="bob", MaxResults=1)["NextToken"]
    assert token.startswith(bob[1]["EventId"] + "#")
    for bad_token in ("garbage", token):
        with pytest.raises(c.exceptions.InvalidParameterException):
            c.admin_list_user_auth_events(UserPoolId=pool_id, Username="alice", NextToken=bad_token)
    with pytest.raises(c.exceptions.InvalidParameterException) as ei:
        c.admin_list_user_auth_events(UserPoolId=pool_id, Username="bob", MaxResults=61)
    assert _error(ei) == (
        "InvalidParameterException",
        "1 validation error detected: Value '61' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 60", 400,
    )


def test_max_results_zero_or_absent_is_60(emu):
    pool_id = _pool(emu, users=("carol",), config=PLUS_AUDIT)
    c = emu.client()
    _seed(emu, pool_id, [{"username": "carol", "at": 1000 + i} for i in range(61)])
    for kw in ({}, {"MaxResults": 0}):
        page = c.admin_list_user_auth_events(UserPoolId=pool_id, Username="carol", **kw)
        assert len(page["AuthEvents"]) == 60, kw
        rest = c.admin_list_user_auth_events(UserPoolId=pool_id, Username="carol",
                                             NextToken=page["NextToken"], **kw)
        assert [e["CreationDate"].timestamp() for e in rest["AuthEvents"]] == [1000]
        assert "NextToken" not in rest


def test_list_errors(emu):
    pool_id = _pool(emu, config=PLUS_AUDIT)
    c = emu.client()
    with pytest.raises(c.exceptions.UserNotFoundException) as ei:
        c.admin_list_user_auth_events(UserPoolId=pool_id, Username="ghost")
    assert _error(ei) == ("UserNotFoundException", "User does not exist.", 400)
    with pytest.raises(c.exceptions.ResourceNotFoundException) as ei:
        c.admin_list_user_auth_events(UserPoolId="us-east-1_Nope", Username="alice")
    assert _error(ei)[1] == "User pool us-east-1_Nope does not exist."
    # A pool in another region is not found from this one.
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        emu.client("eu-west-1").admin_list_user_auth_events(UserPoolId=pool_id, Username="alice")

    # Constraint violations, all reported; the username (sensitive) is not echoed.
    status, _, body = _raw_aws_post(emu.url, "AdminListUserAuthEvents", {
        "UserPoolId": "no-underscore", "Username": "has space", "MaxResults": -1, "NextToken": "",
    })
    assert status == 400
    assert json.loads(body) == {"__type": "InvalidParameterException", "message": (
        "5 validation errors detected: "
        "Value 'no-underscore' at 'userPoolId' failed to satisfy constraint: Member must satisfy "
        "regular expression pattern: [\\w-]+_[0-9a-zA-Z]+; "
        "Value at 'username' failed to satisfy constraint: Member must satisfy regular expression "
        "pattern: [\\p{L}\\p{M}\\p{S}\\p{N}\\p{P}]+; "
        "Value '-1' at 'maxResults' failed to satisfy constraint: Member must have value greater "
        "than or equal to 0; "
        "Value '' at 'nextToken' failed to satisfy constraint: Member must satisfy regular "
        "expression pattern: [\\S]+; "
        "Value '' at 'nextToken' failed to satisfy constraint: Member must have length greater "
        "than or equal to 1")}
    status, _, body = _raw_aws_post(emu.url, "AdminListUserAuthEvents", {"Username": "x" * 129})
    assert status == 400 and json.loads(body)["message"] == (
        "2 validation errors detected: Value null at 'userPoolId' failed to satisfy constraint: "
        "Member must not be null; Value at 'username' failed to satisfy constraint: Member must "
        "have length less than or equal to 128")
    status, _, body = _raw_aws_post(emu.url, "AdminListUserAuthEvents",
                                    {"UserPoolId": pool_id, "Username": "alice", "MaxResults": "5"})
    assert status == 400 and json.loads(body)["__type"] == "SerializationException"


def test_threat_protection_off_refuses_listing_until_switched_on(emu):
    c = emu.client()
    pool_id = _pool(emu)  # ESSENTIALS, no add-ons
    _seed(emu, pool_id, [{"username": "alice", "at": 1_700_000_000}])  # seeding works regardless
    with pytest.raises(c.exceptions.UserPoolAddOnNotEnabledException) as ei:
        c.admin_list_user_auth_events(UserPoolId=pool_id, Username="alice")
    assert _error(ei) == ("UserPoolAddOnNotEnabledException",
                          "Threat protection is not enabled for this user pool", 400)
    # Checked before the user: an unknown user gets the same answer.
    with pytest.raises(c.exceptions.UserPoolAddOnNotEnabledException):
        c.admin_list_user_auth_events(UserPoolId=pool_id, Username="ghost")
    c.update_user_pool(UserPoolId=pool_id, UserPoolTier="PLUS",
                       UserPoolAddOns={"AdvancedSecurityMode": "OFF"})
    with pytest.raises(c.exceptions.UserPoolAddOnNotEnabledException):
        c.admin_list_user_auth_events(UserPoolId=pool_id, Username="alice")
    c.update_user_pool(UserPoolId=pool_id, **PLUS_AUDIT)
    events = c.admin_list_user_auth_events(UserPoolId=pool_id, Username="alice")["AuthEvents"]
    assert [e["CreationDate"].timestamp() for e in events] == [1_700_000_000]


def test_list_is_counted_faulted_and_logged(emu):
    pool_id = _pool(emu, config=PLUS_AUDIT)
    c = emu.client()
    emu.ok("DELETE", "/_emulator/calls")
    emu.ok("POST", "/_emulator/faults", {"rules": [
        {"operation": "AdminListUserAuthEvents", "kind": "throttle", "pool_id": pool_id}]})
    with pytest.raises(c.exceptions.TooManyRequestsException):
        c.admin_list_user_auth_events(UserPoolId=pool_id, Username="alice")
    assert c.admin_list_user_auth_events(UserPoolId=pool_id, Username="alice")["AuthEvents"] == []
    emu.ok("POST", "/_emulator/faults", {"rules": [
        {"operation": "AdminListUserAuthEvents", "kind": "error", "pool_id": pool_id,
         "error_type": "UserPoolAddOnNotEnabledException", "message": "injected"}]})
    with pytest.raises(c.exceptions.UserPoolAddOnNotEnabledException) as ei:
        c.admin_list_user_auth_events(UserPoolId=pool_id, Username="alice")
    assert _error(ei)[1] == "injected"
    assert emu.ok("GET", f"/_emulator/calls?pool_id={pool_id}") == {"AdminListUserAuthEvents": 3}
    reqs = emu.ok("GET", "/_emulator/requests?operation=AdminListUserAuthEvents")["requests"]
    assert [(r["pool_id"], r["username"], r.get("fault"), r["status"]) for r in reqs] == [
        (pool_id, "alice", "throttle", 400), (pool_id, "alice", None, 200),
        (pool_id, "alice", "error", 400),
    ]


def test_events_go_with_their_user_and_pool(emu):
    pool_id = _pool(emu, config=PLUS_AUDIT)
    c = emu.client()
    _seed(emu, pool_id, [{"username": "alice", "at": 10}, {"username": "bob", "at": 20}])
    c.admin_delete_user(UserPoolId=pool_id, Username="alice")
    with pytest.raises(c.exceptions.UserNotFoundException):
        c.admin_list_user_auth_events(UserPoolId=pool_id, Username="alice")
    c.admin_create_user(UserPoolId=pool_id, Username="alice", MessageAction="SUPPRESS")
    assert c.admin_list_user_auth_events(UserPoolId=pool_id, Username="alice")["AuthEvents"] == []
    emu.ok("DELETE", f"/_emulator/pools/{pool_id}/users/bob")
    assert emu.ok("GET", f"/_emulator/pools/{pool_id}/auth-events") == {"events": []}
    emu.ok("DELETE", f"/_emulator/pools/{pool_id}")
    status, _ = emu.call("GET", f"/_emulator/pools/{pool_id}/auth-events")
    assert status == 404


# --------------------------------------------------------------------------- control API


def test_control_api(emu):
    pool_id = _pool(emu, users=("alice", "bob", "odd name/ü"))
    path = f"/_emulator/pools/{pool_id}/auth-events"
    _seed(emu, pool_id, [
        {"username": "alice", "at": 100},
        {"username": "odd name/ü", "at": "1970-01-01T00:03:20", "type": "ForgotPassword",
         "response": "InProgress", "risk": "Block"},
        {"username": "bob", "at": 150.25, "challenges": []},
    ])
    events = emu.ok("GET", path)["events"]
    assert [(e["Username"], e["CreationDate"]) for e in events] == [
        ("odd name/ü", 200), ("bob", 150.25), ("alice", 100)]
    assert events[0]["EventType"] == "ForgotPassword" and events[0]["ChallengeResponses"] == []
    assert events[0]["EventResponse"] == "InProgress"
    assert events[0]["EventRisk"]["RiskDecision"] == "Block"
    assert events[1]["ChallengeResponses"] == []
    assert set(events[2]) == {"Username", "EventId", "EventType", "CreationDate", "EventResponse",
                              "EventRisk", "ChallengeResponses", "EventContextData"}
    assert [e["Username"] for e in emu.ok("GET", f"{path}?username={q('odd name/ü')}")["events"]] == [
        "odd name/ü"]

    # Validated as a whole: any bad event adds nothing.
    for bad_event in (
        {"username": "ghost", "at": 1},
        {"username": "alice"},
        {"username": "alice", "at": "yesterday"},
        {"username": "alice", "at": 1e300},
        {"username": "alice", "at": 1, "type": "SignOut"},
        {"username": "alice", "at": 1, "response": "pass"},
        {"username": "alice", "at": 1, "risk": "Low"},
        {"username": "alice", "at": 1, "challenges": [["Password"]]},
        {"username": "alice", "at": 1, "challenges": [["Sms", "Success"]]},
        {"username": "alice", "at": 1, "ip": ""},
        {"username": "alice", "at": 1, "colour": "red"},
    ):
        status, ans = emu.call("POST", path, {"events": [{"username": "bob", "at": 5}, bad_event]})
        assert status == 400 and ans["error"].startswith("events[1]"), (bad_event, ans)
    for body in ({"events": "x"}, {"evnts": []}, [1]):
        status, ans = emu.call("POST", path, body)
        assert status == 400, body
    assert len(emu.ok("GET", path)["events"]) == 3

    status, _ = emu.call("GET", f"{path}?username=ghost")
    assert status == 404
    status, _ = emu.call("PUT", path, {})
    assert status == 405
    assert emu.ok("DELETE", f"{path}?username=bob") == {"removed": 1}
    assert emu.ok("DELETE", path) == {"removed": 2}
    assert emu.ok("GET", path) == {"events": []}
    status, _ = emu.call("GET", "/_emulator/pools/us-east-1_Nope/auth-events")
    assert status == 404


def test_reset_drops_events():
    with emulator() as emu:
        pool_id = _pool(emu, config=PLUS_AUDIT)
        _seed(emu, pool_id, [{"username": "alice", "at": 1}])
        emu.ok("POST", "/_emulator/reset")
        pool_id = emu.ok("POST", "/_emulator/pools", {
            "pool_id": pool_id, "users": [{"username": "alice"}], "config": PLUS_AUDIT})["pool_id"]
        assert emu.ok("GET", f"/_emulator/pools/{pool_id}/auth-events") == {"events": []}


# --------------------------------------------------------------------------- recorded sign-ins


def _password_client(c, pool_id: str, username: str) -> str:
    client_id = c.create_user_pool_client(
        UserPoolId=pool_id, ClientName="app",
        ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_PASSWORD_AUTH",
                           "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    c.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD,
                              Permanent=True)
    return client_id


def test_password_sign_ins_are_recorded(emu):
    pool_id = _pool(emu, config=PLUS_AUDIT)
    c = emu.client()
    client_id = _password_client(c, pool_id, "alice")
    t0 = time.time()
    ok = c.admin_initiate_auth(UserPoolId=pool_id, ClientId=client_id,
                               AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD})
    assert "AccessToken" in ok["AuthenticationResult"]
    with pytest.raises(c.exceptions.NotAuthorizedException):
        c.admin_initiate_auth(UserPoolId=pool_id, ClientId=client_id,
                              AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": "alice", "PASSWORD": "wrong"})
    # Neither a refresh nor an unknown user is a sign-in event.
    c.admin_initiate_auth(UserPoolId=pool_id, ClientId=client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                          AuthParameters={"REFRESH_TOKEN": ok["AuthenticationResult"]["RefreshToken"]})
    with pytest.raises(c.exceptions.UserNotFoundException):
        c.admin_initiate_auth(UserPoolId=pool_id, ClientId=client_id,
                              AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": "ghost", "PASSWORD": PASSWORD})
    # InitiateAuth (found by its client id), with the user's IP from UserContextData.
    c.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                    AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD},
                    UserContextData={"IpAddress": "203.0.113.7"})

    events = c.admin_list_user_auth_events(UserPoolId=pool_id, Username="alice")["AuthEvents"]
    assert [(e["EventType"], e["EventResponse"], e["ChallengeResponses"][0]["ChallengeResponse"],
             e["EventContextData"]["IpAddress"]) for e in events] == [
        ("SignIn", "Pass", "Success", "203.0.113.7"),
        ("SignIn", "Fail", "Failure", "127.0.0.1"),
        ("SignIn", "Pass", "Success", "127.0.0.1"),
    ]
    assert all(e["ChallengeResponses"][0]["ChallengeName"] == "Password" for e in events)
    assert all(t0 - 1 <= e["CreationDate"].timestamp() <= time.time() + 1 for e in events)
    assert [e["Username"] for e in emu.ok("GET", f"/_emulator/pools/{pool_id}/auth-events")["events"]] == [
        "alice"] * 3


def test_sign_ins_without_threat_protection_are_not_recorded(emu):
    pool_id = _pool(emu)
    c = emu.client()
    client_id = _password_client(c, pool_id, "bob")
    c.admin_initiate_auth(UserPoolId=pool_id, ClientId=client_id, AuthFlow="ADMIN_NO_SRP_AUTH",
                          AuthParameters={"USERNAME": "bob", "PASSWORD": PASSWORD})
    with pytest.raises(botocore.exceptions.ClientError):
        c.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                        AuthParameters={"USERNAME": "bob", "PASSWORD": "nope"})
    assert emu.ok("GET", f"/_emulator/pools/{pool_id}/auth-events") == {"events": []}
    # Switched on, the same calls are recorded.
    c.update_user_pool(UserPoolId=pool_id, UserPoolTier="PLUS",
                       UserPoolAddOns={"AdvancedSecurityMode": "ENFORCED"})
    c.admin_initiate_auth(UserPoolId=pool_id, ClientId=client_id, AuthFlow="ADMIN_NO_SRP_AUTH",
                          AuthParameters={"USERNAME": "bob", "PASSWORD": PASSWORD})
    assert [e["EventResponse"] for e in emu.ok("GET", f"/_emulator/pools/{pool_id}/auth-events")["events"]] == [
        "Pass"]
