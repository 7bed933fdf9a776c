"""Self-test of the sign-in log export: Set/GetLogDeliveryConfiguration (sign_in_logs.py),
sign-in events written to CloudWatch Logs, and FilterLogEvents through the emulator with
JSON filter patterns, paging, faults and the LogFilter quota (cloudwatch_logs.py).

Run as test_emulator.py says; each test talks to a real emulator subprocess over HTTP.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.config import Config

from test_auth_events import PASSWORD, PLUS_AUDIT, _error, _password_client, _pool, _seed
from test_emulator import REGION, _raw_aws_post, emulator

ACCOUNT = "123456789012"  # moto's default account
PASSING = '{ ($.message.eventType = "SignIn") && ($.message.eventResponse = "Pass") }'
RECORD_KEYS = {"eventTimestamp", "eventSource", "logLevel", "message", "logSourceId"}
MESSAGE_KEYS = {
    "version", "eventId", "eventType", "userSub", "userName", "userPoolId", "clientId",
    "creationDate", "eventResponse", "riskLevel", "riskDecision", "challenges", "deviceName",
    "ipAddress", "requestId", "idpName", "compromisedCredentialDetected", "city", "country",
    "eventFeedbackValue", "eventFeedbackDate", "eventFeedbackProvider", "hasContextData",
}


@pytest.fixture(scope="module")
def emu():
    with emulator() as e:
        yield e


def _logs(emu):
    return boto3.client(
        "logs", endpoint_url=emu.url, region_name=REGION,
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def _group(emu, name: str | None = None) -> tuple[str, str]:
    """A new log group: (name, ARN as Cognito takes it, without ':*')."""
    name = name or f"/aws/vendedlogs/cognito/{uuid.uuid4().hex[:8]}"
    _logs(emu).create_log_group(logGroupName=name)
    return name, f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"


def _auth_config(arn: str, level: str = "INFO") -> dict:
    return {"LogLevel": level, "EventSource": "userAuthEvents",
            "CloudWatchLogsConfiguration": {"LogGroupArn": arn}}


def _export_to(emu, pool_id: str, arn: str) -> None:
    emu.client().set_log_delivery_configuration(UserPoolId=pool_id,
                                                LogConfigurations=[_auth_config(arn)])


def _all_events(emu, group: str, **kw) -> tuple[list[dict], int]:
    """Every page of FilterLogEvents: (events, pages)."""
    logs, out, token, pages = _logs(emu), [], None, 0
    while True:
        args = dict(logGroupName=group, **kw)
        if token:
            args["nextToken"] = token
        r = logs.filter_log_events(**args)
        if "limit" in kw:
            assert len(r["events"]) <= kw["limit"]
        out.extend(r["events"])
        pages += 1
        token = r.get("nextToken")
        if not token:
            return out, pages
        assert pages < 100


def _records(events: list[dict]) -> list[dict]:
    return [json.loads(e["message"]) for e in events]


def _ms(iso: str) -> int:
    return int(dt.datetime.fromisoformat(iso).replace(tzinfo=dt.timezone.utc).timestamp() * 1000)


def _raw_logs_post(url: str, op: str, body: dict) -> tuple[int, dict, bytes]:
    return _raw_aws_post(url, op, body, service="logs")


def _logs_burst(url: str, body: dict, n: int, workers: int) -> tuple[list, float]:
    t0 = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(lambda _: _raw_logs_post(url, "FilterLogEvents", body), range(n)))
    return results, time.monotonic() - t0


def _assert_logs_throttled(result: tuple[int, dict, bytes]) -> None:
    status, headers, body = result
    h = {k.lower(): v for k, v in headers.items()}
    assert status == 400
    assert h["x-amzn-errortype"] == "ThrottlingException"
    assert h["content-type"] == "application/x-amz-json-1.1"
    assert json.loads(body) == {"__type": "ThrottlingException", "message": "Rate exceeded"}


# --------------------------------------------------------------------------- log delivery


def test_log_delivery_set_get_and_clear(emu):
    c = emu.client()
    pool_id = _pool(emu, config=PLUS_AUDIT)
    assert c.get_log_delivery_configuration(UserPoolId=pool_id)["LogDeliveryConfiguration"] == {
        "UserPoolId": pool_id, "LogConfigurations": []}
    _, auth_arn = _group(emu)
    _, notify_arn = _group(emu)
    configs = [
        _auth_config(auth_arn),
        {"LogLevel": "ERROR", "EventSource": "userNotification",
         "CloudWatchLogsConfiguration": {"LogGroupArn": notify_arn}},
    ]
    answer = c.set_log_delivery_configuration(UserPoolId=pool_id, LogConfigurations=configs)
    assert answer["LogDeliveryConfiguration"] == {"UserPoolId": pool_id, "LogConfigurations": configs}
    assert c.get_log_delivery_configuration(UserPoolId=pool_id)["LogDeliveryConfiguration"] == {
        "UserPoolId": pool_id, "LogConfigurations": configs}

    # Set replaces the whole list; other destinations are kept as given (not checked).
    s3 = [{"LogLevel": "INFO", "EventSource": "userAuthEvents",
           "S3Configuration": {"BucketArn": "arn:aws:s3:::my-activity-logs"}}]
    c.set_log_delivery_configuration(UserPoolId=pool_id, LogConfigurations=s3)
    assert c.get_log_delivery_configuration(UserPoolId=pool_id)["LogDeliveryConfiguration"][
        "LogConfigurations"] == s3

    # An empty list clears it.
    assert c.set_log_delivery_configuration(UserPoolId=pool_id, LogConfigurations=[])[
        "LogDeliveryConfiguration"] == {"UserPoolId": pool_id, "LogConfigurations": []}
    assert c.get_log_delivery_configuration(UserPoolId=pool_id)["LogDeliveryConfiguration"][
        "LogConfigurations"] == []

    # userNotification needs no Plus plan.
    plain = _pool(emu)
    c.set_log_delivery_configuration(UserPoolId=plain, LogConfigurations=[configs[1]])
    assert c.get_log_delivery_configuration(UserPoolId=plain)["LogDeliveryConfiguration"][
        "LogConfigurations"] == [configs[1]]


def test_log_delivery_errors(emu):
    c = emu.client()
    pool_id = _pool(emu, config=PLUS_AUDIT)
    _, arn = _group(emu)
    good = [_auth_config(arn)]
    c.set_log_delivery_configuration(UserPoolId=pool_id, LogConfigurations=good)

    def refused(code: str, configs, pool=pool_id) -> str:
        with pytest.raises(c.exceptions.ClientError) as ei:
            c.set_log_delivery_configuration(UserPoolId=pool, LogConfigurations=configs)
        got_code, message, status = _error(ei)
        assert (got_code, status) == (code, 400), message
        return message

    # Shape violations, AWS-style (1-based member paths), before the pool is looked up.
    assert refused("InvalidParameterException",
                   [{**good[0], "LogLevel": "TRACE"}], pool="us-east-1_nosuchpool") == (
        "1 validation error detected: Value 'TRACE' at 'logConfigurations.1.member.logLevel' "
        "failed to satisfy constraint: Member must satisfy enum value set: [ERROR, INFO]")
    assert refused("InvalidParameterException", [good[0], {**good[0], "EventSource": "other"}]) == (
        "1 validation error detected: Value 'other' at 'logConfigurations.2.member.eventSource' "
        "failed to satisfy constraint: Member must satisfy enum value set: "
        "[userAuthEvents, userNotification]")
    too_many = refused("InvalidParameterException", good * 3)
    assert too_many.startswith("1 validation error detected: Value '[LogConfigurationType(")
    assert too_many.endswith("' at 'logConfigurations' failed to satisfy constraint: "
                             "Member must have length less than or equal to 2")
    starred = refused("InvalidParameterException", [_auth_config(arn + ":*")])
    assert "at 'logConfigurations.1.member.cloudWatchLogsConfiguration.logGroupArn' failed " \
           "to satisfy constraint: Member must satisfy regular expression pattern" in starred
    # The request's own rules (AWS's wording).
    assert refused("InvalidParameterException",
                   [{"LogLevel": "INFO", "EventSource": "userAuthEvents"}]) == (
        "Request validation Failed. Following event sources in request have no destination: "
        "[userAuthEvents].")
    assert refused("InvalidParameterException", good * 2) == (
        "Request validation Failed. Following event sources appear more then once in a "
        "request: [userAuthEvents].")
    # Then the pool, its plan and the log group.
    assert refused("ResourceNotFoundException", good, pool="us-east-1_nosuchpool") == (
        "User pool us-east-1_nosuchpool does not exist.")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_log_delivery_configuration(UserPoolId="us-east-1_nosuchpool")
    refused("FeatureUnavailableInTierException", good, pool=_pool(emu))
    missing = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:no-such-group"
    assert "does not exist" in refused("InvalidParameterException", [_auth_config(missing)])
    other_account = f"arn:aws:logs:{REGION}:210987654321:log-group:{arn.rsplit(':', 1)[1]}"
    assert "same AWS account" in refused("InvalidParameterException", [_auth_config(other_account)])
    not_logs = f"arn:aws:sqs:{REGION}:{ACCOUNT}:queue-name"
    assert "not the ARN of a CloudWatch Logs log group" in refused(
        "InvalidParameterException", [_auth_config(not_logs)])
    # (boto3 checks required members itself: these go raw.)
    assert _raw_cognito(emu, "SetLogDeliveryConfiguration", {"UserPoolId": pool_id}) == (
        "InvalidParameterException",
        "1 validation error detected: Value null at 'logConfigurations' failed to satisfy "
        "constraint: Member must not be null")
    assert _raw_cognito(emu, "SetLogDeliveryConfiguration",
                        {"UserPoolId": pool_id, "LogConfigurations": "nope"})[0] == (
        "SerializationException")

    # Nothing refused changed the stored configuration.
    assert c.get_log_delivery_configuration(UserPoolId=pool_id)["LogDeliveryConfiguration"][
        "LogConfigurations"] == good


def _raw_cognito(emu, op: str, body: dict) -> tuple[str, str]:
    status, _, raw = _raw_aws_post(emu.url, op, body)
    assert status == 400
    answer = json.loads(raw)
    return answer["__type"], answer["message"]


def test_log_delivery_goes_with_the_pool(emu):
    c = emu.client()
    pool_id = _pool(emu, config=PLUS_AUDIT)
    _, arn = _group(emu)
    _export_to(emu, pool_id, arn)
    emu.ok("DELETE", f"/_emulator/pools/{pool_id}")
    with pytest.raises(c.exceptions.ResourceNotFoundException):
        c.get_log_delivery_configuration(UserPoolId=pool_id)
    again = emu.ok("POST", "/_emulator/pools", {"pool_id": pool_id, "users": [{"username": "alice"}],
                                                "config": PLUS_AUDIT})["pool_id"]
    assert c.get_log_delivery_configuration(UserPoolId=again)["LogDeliveryConfiguration"][
        "LogConfigurations"] == []


def test_log_delivery_calls_are_counted_faulted_and_logged(emu):
    c = emu.client()
    pool_id = _pool(emu, config=PLUS_AUDIT)
    _, arn = _group(emu)
    emu.ok("POST", "/_emulator/faults", {"rules": [
        {"operation": "GetLogDeliveryConfiguration", "kind": "internal", "pool_id": pool_id}]})
    with pytest.raises(c.exceptions.InternalErrorException):
        c.get_log_delivery_configuration(UserPoolId=pool_id)
    _export_to(emu, pool_id, arn)
    c.get_log_delivery_configuration(UserPoolId=pool_id)
    assert emu.ok("GET", f"/_emulator/calls?pool_id={pool_id}") == {
        "GetLogDeliveryConfiguration": 2, "SetLogDeliveryConfiguration": 1}
    log = [e for e in emu.ok("GET", "/_emulator/requests")["requests"] if e.get("pool_id") == pool_id]
    assert [(e["operation"], e["status"], e.get("fault")) for e in log] == [
        ("GetLogDeliveryConfiguration", 500, "internal"),
        ("SetLogDeliveryConfiguration", 200, None),
        ("GetLogDeliveryConfiguration", 200, None),
    ]


# --------------------------------------------------------------------------- export


def test_seeded_and_real_sign_ins_are_exported(emu):
    c = emu.client()
    pool_id = _pool(emu, config=PLUS_AUDIT)
    group, arn = _group(emu)
    client_id = _password_client(c, pool_id, "bob")
    # Before the configuration: kept for AdminListUserAuthEvents, never exported.
    _seed(emu, pool_id, [{"username": "alice", "at": "2024-07-16T09:00:00"}])
    c.admin_initiate_auth(UserPoolId=pool_id, ClientId=client_id, AuthFlow="ADMIN_NO_SRP_AUTH",
                          AuthParameters={"USERNAME": "bob", "PASSWORD": PASSWORD})
    _export_to(emu, pool_id, arn)
    assert _all_events(emu, group)[0] == []

    _seed(emu, pool_id, [{"username": "alice", "at": "2024-07-17T17:25:55.123", "ip": "198.51.100.4"}])
    t0 = time.time()
    c.admin_initiate_auth(
        UserPoolId=pool_id, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "bob", "PASSWORD": PASSWORD},
        ContextData={"IpAddress": "203.0.113.9", "ServerName": "app.example.com",
                     "ServerPath": "/login", "HttpHeaders": []})
    with pytest.raises(c.exceptions.NotAuthorizedException):
        c.admin_initiate_auth(UserPoolId=pool_id, ClientId=client_id,
                              AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": "bob", "PASSWORD": "wrong"})

    events, _ = _all_events(emu, group)
    records = _records(events)
    assert [(r["message"]["userName"], r["message"]["eventResponse"]) for r in records] == [
        ("alice", "Pass"), ("bob", "Pass"), ("bob", "Fail")]
    assert all(set(r) == RECORD_KEYS and set(r["message"]) == MESSAGE_KEYS for r in records)

    # The seeded one, field by field; same EventId as AdminListUserAuthEvents reports.
    alice = c.admin_get_user(UserPoolId=pool_id, Username="alice")
    sub = {a["Name"]: a["Value"] for a in alice["UserAttributes"]}["sub"]
    listed = c.admin_list_user_auth_events(UserPoolId=pool_id, Username="alice")["AuthEvents"]
    assert len(listed) == 2  # the one from before the configuration too
    seeded, record = events[0], records[0]
    assert seeded["timestamp"] == _ms("2024-07-17T17:25:55.123")
    assert seeded["logStreamName"] == "userAuthEvents-2024-07-17"
    assert record == {
        "eventTimestamp": str(_ms("2024-07-17T17:25:55.123")),
        "eventSource": "USER_ACTIVITY",
        "logLevel": "INFO",
        "message": {
            "version": "1", "eventId": listed[0]["EventId"], "eventType": "SignIn",
            "userSub": sub, "userName": "alice", "userPoolId": pool_id, "clientId": "",
            "creationDate": "Wed Jul 17 17:25:55 UTC 2024", "eventResponse": "Pass",
            "riskLevel": "", "riskDecision": "PASS",
            "challenges": [{"challengeName": "Password", "challengeResponse": "Success"}],
            "deviceName": "Other, Other", "ipAddress": "198.51.100.4",
            "requestId": record["message"]["requestId"], "idpName": "",
            "compromisedCredentialDetected": "false", "city": "", "country": "",
            "eventFeedbackValue": "", "eventFeedbackDate": "", "eventFeedbackProvider": "",
            "hasContextData": "false",
        },
        "logSourceId": {"userPoolId": pool_id},
    }
    assert str(uuid.UUID(record["message"]["requestId"])) == record["message"]["requestId"]

    # The real ones: now, the app client, the IP from ContextData, the same EventIds.
    bob_listed = c.admin_list_user_auth_events(UserPoolId=pool_id, Username="bob")["AuthEvents"]
    assert [r["message"]["eventId"] for r in records[1:]] == [e["EventId"] for e in bob_listed[:2]][::-1]
    for event, rec in zip(events[1:], records[1:]):
        m = rec["message"]
        assert t0 - 1 <= event["timestamp"] / 1000 <= time.time() + 1
        assert rec["eventTimestamp"] == str(event["timestamp"])
        assert event["logStreamName"] == "userAuthEvents-" + dt.datetime.fromtimestamp(
            event["timestamp"] / 1000, dt.timezone.utc).strftime("%Y-%m-%d")
        assert (m["clientId"], m["userPoolId"], m["eventType"]) == (client_id, pool_id, "SignIn")
    assert [(r["message"]["ipAddress"], r["message"]["hasContextData"],
             r["message"]["challenges"][0]["challengeResponse"]) for r in records[1:]] == [
        ("203.0.113.9", "true", "Success"), ("127.0.0.1", "false", "Failure")]
    streams = _logs(emu).describe_log_streams(logGroupName=group)["logStreams"]
    assert "userAuthEvents-2024-07-17" in {s["logStreamName"] for s in streams}


def test_only_info_user_auth_events_to_cloudwatch_are_exported(emu):
    c = emu.client()
    pool_id = _pool(emu, config=PLUS_AUDIT)
    group, arn = _group(emu)
    c.set_log_delivery_configuration(UserPoolId=pool_id, LogConfigurations=[
        _auth_config(arn, level="ERROR"),
        {"LogLevel": "ERROR", "EventSource": "userNotification",
         "CloudWatchLogsConfiguration": {"LogGroupArn": arn}}])
    _seed(emu, pool_id, [{"username": "alice", "at": "2024-07-17T00:00:00"}])
    assert _all_events(emu, group)[0] == []
    _export_to(emu, pool_id, arn)
    _seed(emu, pool_id, [{"username": "alice", "at": "2024-07-17T00:00:01"}])
    assert len(_all_events(emu, group)[0]) == 1


# --------------------------------------------------------------------------- FilterLogEvents


SEEDED = [  # (username, at, type, response): the earliest are not passing sign-ins
    ("bob", "2024-07-01T08:00:00", "SignIn", "Fail"),
    ("alice", "2024-07-01T08:00:01", "SignUp", "Pass"),
    ("bob", "2024-07-01T09:00:00", "SignIn", "Pass"),
    ("alice", "2024-07-03T10:00:00", "SignIn", "Pass"),
    ("alice", "2024-07-02T11:00:00", "SignIn", "Pass"),
    ("bob", "2024-07-02T11:30:00", "ForgotPassword", "Pass"),
    ("alice", "2024-07-02T12:00:00", "SignIn", "Fail"),
    ("bob", "2024-07-03T09:00:00", "SignIn", "Pass"),
    ("alice", "2024-07-01T23:59:59", "SignIn", "Pass"),
    ("bob", "2024-07-04T00:00:00", "SignIn", "InProgress"),
    ("alice", "2024-07-04T06:00:00", "SignIn", "Pass"),
]


@pytest.fixture(scope="module")
def seeded_group(emu):
    """A log group holding SEEDED, seeded out of order (streams created out of time order)."""
    pool_id = _pool(emu, config=PLUS_AUDIT)
    group, arn = _group(emu)
    _export_to(emu, pool_id, arn)
    _seed(emu, pool_id, [{"username": u, "at": at, "type": t, "response": r}
                         for u, at, t, r in SEEDED])
    events = emu.ok("GET", f"/_emulator/pools/{pool_id}/auth-events")["events"]
    ids = {(e["Username"], round(e["CreationDate"] * 1000)): e["EventId"] for e in events}
    passing = sorted((_ms(at), ids[(u, _ms(at))]) for u, at, t, r in SEEDED
                     if (t, r) == ("SignIn", "Pass"))
    return group, arn, passing


def test_filter_json_pattern_pages_in_timestamp_order(emu, seeded_group):
    group, _, passing = seeded_group
    everything, _ = _all_events(emu, group)
    assert [e["timestamp"] for e in everything] == sorted(_ms(at) for _, at, _, _ in SEEDED)
    for limit in (1, 3, 4, 100):
        events, pages = _all_events(emu, group, filterPattern=PASSING, limit=limit)
        assert [(e["timestamp"], json.loads(e["message"])["message"]["eventId"])
                for e in events] == passing, limit
        assert pages == max(1, -(-len(passing) // limit))
    first = _logs(emu).filter_log_events(logGroupName=group, filterPattern=PASSING, limit=2)
    assert [e["timestamp"] for e in first["events"]] == [t for t, _ in passing[:2]]
    assert first["nextToken"]


def test_filter_time_range_identifier_and_stream_prefix(emu, seeded_group):
    group, arn, passing = seeded_group
    start, end = _ms("2024-07-02T11:00:00"), _ms("2024-07-03T10:00:00")
    events, _ = _all_events(emu, group, filterPattern=PASSING, startTime=start, limit=2)
    assert [e["timestamp"] for e in events] == [t for t, _ in passing if t >= start]
    events, _ = _all_events(emu, group, filterPattern=PASSING, startTime=start, endTime=end)
    assert [e["timestamp"] for e in events] == [t for t, _ in passing if start <= t <= end]
    logs = _logs(emu)
    by_arn = logs.filter_log_events(logGroupIdentifier=arn, filterPattern=PASSING)["events"]
    assert [e["timestamp"] for e in by_arn] == [t for t, _ in passing]
    day = logs.filter_log_events(logGroupName=group, filterPattern=PASSING,
                                 logStreamNamePrefix="userAuthEvents-2024-07-02")["events"]
    assert [e["timestamp"] for e in day] == [_ms("2024-07-02T11:00:00")]
    assert logs.filter_log_events(logGroupName=group, logStreamNamePrefix="nothing")["events"] == []
    # Other JSON operators over the same events.
    def count(pattern: str) -> int:
        return len(_all_events(emu, group, filterPattern=pattern)[0])
    assert count('{ $.message.eventType != "SignIn" }') == 2
    # 8 Pass, 1 InProgress ("*ess"), not the 2 Fail.
    assert count('{ $.message.eventResponse = "P*" || $.message.eventResponse = "*ess" }') == 9
    # (seeded SignIn events default to [Password, Success], failed ones included)
    assert count('{ $.message.challenges[0].challengeResponse = "Success" }') == 9
    assert count('{ $.message.challenges[0].challengeName NOT EXISTS }') == 2
    assert count('{ $.message.nothing IS NULL }') == 0
    assert count('{ $.logSourceId.userPoolId = "us-east-1_*" && $.message.userName = alice }') == 6


def test_filter_patterns_on_plain_messages_and_bad_patterns(emu):
    logs = _logs(emu)
    group, _ = _group(emu)
    logs.create_log_stream(logGroupName=group, logStreamName="app")
    now = int(time.time() * 1000)
    messages = ["plain ERROR text", json.dumps({"level": "ERROR", "latency": 120, "tags": ["a", "b"]}),
                json.dumps({"level": "INFO", "latency": 80, "user": None})]
    logs.put_log_events(logGroupName=group, logStreamName="app",
                        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(messages)])

    def found(pattern: str) -> list[str]:
        return [e["message"] for e in logs.filter_log_events(logGroupName=group,
                                                             filterPattern=pattern)["events"]]

    assert found('{ $.level = "ERROR" }') == [messages[1]]  # the plain text never matches
    assert found("{ $.latency > 100 }") == [messages[1]]
    assert found("{ $.latency <= 80 || $.tags[1] = b }") == messages[1:]
    assert found("{ $.user IS NULL }") == [messages[2]]
    assert found("ERROR") == messages[:2]
    assert found("ERROR -latency") == [messages[0]]
    assert found('?plain ?INFO') == [messages[0], messages[2]]
    assert found('"ERROR text"') == [messages[0]]
    assert found("") == messages

    for bad in ('{ $.level = }', '{ $.level = "x" ', '{ level = "x" }', '{ $.latency > "x" }',
                '{ ($.level = "x" }', '[ip, user]', '{ $.level = %ERR% }'):
        with pytest.raises(logs.exceptions.InvalidParameterException) as ei:
            logs.filter_log_events(logGroupName=group, filterPattern=bad)
        assert ei.value.response["Error"]["Message"].startswith("Invalid filter pattern: "), bad
    # (boto3 checks limit >= 1 itself: sent raw; moto would read 0 as 10,000.)
    status, _, raw = _raw_logs_post(emu.url, "FilterLogEvents", {"logGroupName": group, "limit": 0})
    assert (status, json.loads(raw)) == (400, {
        "__type": "InvalidParameterException",
        "message": "1 validation error detected: Value '0' at 'limit' failed to satisfy "
                   "constraint: Member must have value greater than or equal to 1"})
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName=group, logGroupIdentifier=group)
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName=group, logStreamNames=["app"], logStreamNamePrefix="a")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.filter_log_events(logGroupName="no-such-group")


def test_logs_calls_are_counted_faulted_and_logged(emu, seeded_group):
    group, _, passing = seeded_group
    emu.ok("DELETE", "/_emulator/calls")
    _all_events(emu, group, filterPattern=PASSING, limit=2)
    pages = -(-len(passing) // 2)
    assert emu.ok("GET", "/_emulator/calls")["FilterLogEvents"] == pages
    log = emu.ok("GET", "/_emulator/requests?operation=FilterLogEvents")["requests"]
    assert [(e["log_group"], e["filter"], e["limit"], e.get("token", False), e["status"])
            for e in log] == [(group, PASSING, 2, i > 0, 200) for i in range(pages)]
    assert all(e["region"] == REGION for e in log)

    # A throttle fault on a CloudWatch Logs call answers CloudWatch Logs' throttling error;
    # a continuation rule only hits later pages (nextToken).
    emu.ok("POST", "/_emulator/faults", {"rules": [
        {"operation": "FilterLogEvents", "kind": "throttle", "continuation": True}]})
    logs = _logs(emu)
    first = logs.filter_log_events(logGroupName=group, filterPattern=PASSING, limit=2)
    with pytest.raises(logs.exceptions.ClientError) as ei:
        logs.filter_log_events(logGroupName=group, filterPattern=PASSING, limit=2,
                               nextToken=first["nextToken"])
    assert (ei.value.response["Error"]["Code"], ei.value.response["Error"]["Message"]) == (
        "ThrottlingException", "Rate exceeded")
    assert emu.ok("GET", "/_emulator/faults")["rules"] == []
    assert emu.ok("GET", "/_emulator/calls")["FilterLogEvents"] == pages + 2


def test_filter_log_events_quota():
    with emulator("--quota-scale", "0.4") as emu:
        quota = emu.ok("GET", "/_emulator/quota")
        assert quota["rates"]["LogFilter"] == pytest.approx(2.0)
        assert quota["rates"]["UserList"] == pytest.approx(12.0)
        group, _ = _group(emu, "quota-group")
        body = {"logGroupName": group, "filterPattern": '{ $.a = 1 }'}
        results, elapsed = _logs_burst(emu.url, body, 10, workers=5)
        ok = sum(1 for r in results if r[0] == 200)
        assert 2 <= ok <= 2 + 2 * elapsed + 1, (ok, elapsed)
        refused = [r for r in results if r[0] != 200]
        assert refused
        for r in refused:
            _assert_logs_throttled(r)
        stats = emu.ok("GET", "/_emulator/stats")
        assert stats["calls"]["FilterLogEvents"] == 10
        assert stats["throttled_by_operation"] == {"FilterLogEvents": len(refused)}
        # Other CloudWatch Logs calls are not limited.
        assert all(_logs(emu).describe_log_groups()["logGroups"] for _ in range(5))
        # POST /_emulator/quota refills every bucket; a tiny scale throttles the 2nd call.
        emu.ok("POST", "/_emulator/quota", {"scale": 0.01})
        statuses = [_raw_logs_post(emu.url, "FilterLogEvents", body) for _ in range(3)]
        assert statuses[0][0] == 200
        for r in statuses[1:]:
            _assert_logs_throttled(r)
