"""Cognito log delivery (Set/GetLogDeliveryConfiguration, which moto 5.2.5 lacks) and the
export of users' sign-in events to CloudWatch Logs, for the emulator.

* SetLogDeliveryConfiguration / GetLogDeliveryConfiguration are answered here. The
  configuration is kept on moto's pool object, so it goes with the pool (DeleteUserPool, the
  control API's pool delete, /_emulator/reset).
* Every event auth_events.py records for a pool (control-API seeded, or a real password
  sign-in) is also written, as the JSON AWS documents for exported user activity logs, to the
  CloudWatch Logs log group of the pool's ``userAuthEvents`` / ``INFO`` configuration (moto's
  logs backend; stream ``userAuthEvents-YYYY-MM-DD``, the event's UTC date).

cognito_emulator.py calls in holding STATE_LOCK; nothing here locks. Wordings AWS's docs do
not give are marked where they are made up (README.md, "Sign-in logs in CloudWatch Logs").
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import uuid
from typing import Any

from moto.cognitoidp.models import CognitoIdpUser, CognitoIdpUserPool

import auth_events
import cloudwatch_logs
from auth_events import (
    _POOL_ID_RE,
    AwsError,
    _enum_error,
    _string_member,
    _validation_error,
    _wrong_type,
)

LOG_DELIVERY_OPS = ("SetLogDeliveryConfiguration", "GetLogDeliveryConfiguration")

LOG_LEVELS = ("ERROR", "INFO")
# In the order AWS prints the set in its validation message (as reported by floci's
# measurements against AWS, floci-io/floci PR #2867), not the API reference's order.
EVENT_SOURCES = ("userAuthEvents", "userNotification")
MAX_CONFIGURATIONS = 2  # "Array Members: Minimum number of 0 items. Maximum number of 2 items."

# The API reference's patterns (ArnType, S3ArnType); Java's \w is ASCII.
_ARN_RE = re.compile(r"arn:[\w+=/,.@-]+:[\w+=/,.@-]+:([\w+=/,.@-]*)?:[0-9]+:[\w+=/,.@-]+"
                     r"(:[\w+=/,.@-]+)?(:[\w+=/,.@-]+)?", re.ASCII)
_S3_ARN_RE = re.compile(r"arn:[\w+=/,.@-]+:[\w+=/,.@-]+:::[\w+=/,.@-]+(:[\w+=/,.@-]+)?"
                        r"(:[\w+=/,.@-]+)?", re.ASCII)
# (request member, its ARN member, AWS's type name, pattern, min length, max length)
DESTINATIONS = (
    ("CloudWatchLogsConfiguration", "LogGroupArn", "CloudWatchLogsConfigurationType",
     _ARN_RE, 20, 2048),
    ("S3Configuration", "BucketArn", "S3ConfigurationType", _S3_ARN_RE, 3, 1024),
    ("FirehoseConfiguration", "StreamArn", "FirehoseConfigurationType", _ARN_RE, 20, 2048),
)

STREAM_PREFIX = "userAuthEvents-"

# AdminListUserAuthEvents' RiskDecision -> the exported log's riskDecision. Only PASS (for
# NoRisk) is in AWS's documented example; the other two are guesses.
RISK_DECISIONS = {"NoRisk": "PASS", "AccountTakeover": "ACCOUNT_TAKEOVER", "Block": "BLOCK"}

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _camel(name: str) -> str:
    return name[0].lower() + name[1:]


def pool_log_delivery(pool: CognitoIdpUserPool) -> list[dict]:
    """The pool's log configurations (kept on moto's pool object, so they go with it)."""
    return pool.__dict__.setdefault("emulator_log_delivery", [])


def _pool_tier(pool: CognitoIdpUserPool) -> str:
    return pool.extended_config.get("UserPoolTier") or auth_events.DEFAULT_TIER


# --------------------------------------------------------------------------- requests


def _render(configs: list[dict]) -> str:
    """The request as AWS's Java model prints it in a length violation (as floci measured)."""
    def java(value: Any) -> str:
        return "null" if value is None else str(value)

    def dest(config: dict, key: str, arn_key: str, type_name: str) -> str:
        d = config.get(key)
        if not isinstance(d, dict):
            return "null"
        return f"{type_name}({_camel(arn_key)}={java(d.get(arn_key))})"

    items = []
    for c in configs:
        parts = [f"logLevel={java(c.get('LogLevel'))}", f"eventSource={java(c.get('EventSource'))}"]
        for key, arn_key, type_name, *_ in DESTINATIONS:  # the model's member order
            parts.append(f"{_camel(key)}={dest(c, key, arn_key, type_name)}")
        items.append(f"LogConfigurationType({', '.join(parts)})")
    return "[" + ", ".join(items) + "]"


def _enum_member(config: dict, key: str, allowed: tuple[str, ...], where: str,
                 errors: list[str]) -> None:
    val = config.get(key)
    member = f"{where}.{_camel(key)}"
    if val is None:
        errors.append(f"Value null at '{member}' failed to satisfy constraint: "
                      "Member must not be null")
    elif not isinstance(val, str):
        raise _wrong_type(f"LogConfigurations[].{key}", "a string")
    elif val not in allowed:
        errors.append(_enum_error(val, member, allowed))


def _set_request(params: dict) -> tuple[str, list[dict]]:
    """(pool id, configurations as stored) of a valid request, else the AwsError."""
    errors: list[str] = []
    pool_id = _string_member(params, "UserPoolId", errors, _POOL_ID_RE.pattern,
                             _POOL_ID_RE.fullmatch, 55, required=True)
    raw = params.get("LogConfigurations")
    configs: list[dict] = []
    if raw is None:
        errors.append("Value null at 'logConfigurations' failed to satisfy constraint: "
                      "Member must not be null")
    elif not isinstance(raw, list):
        raise _wrong_type("LogConfigurations", "a list")
    else:
        for item in raw:
            if item is None:
                continue  # AWS drops a null element (as floci measured)
            if not isinstance(item, dict):
                raise _wrong_type("LogConfigurations[]", "an object")
            configs.append(item)
    if len(configs) > MAX_CONFIGURATIONS:
        errors.append(f"Value '{_render(configs)}' at 'logConfigurations' failed to satisfy "
                      f"constraint: Member must have length less than or equal to "
                      f"{MAX_CONFIGURATIONS}")
    for i, config in enumerate(configs, 1):
        where = f"logConfigurations.{i}.member"  # AWS's paths are 1-based
        _enum_member(config, "LogLevel", LOG_LEVELS, where, errors)
        _enum_member(config, "EventSource", EVENT_SOURCES, where, errors)
        for key, arn_key, _, regex, lo, hi in DESTINATIONS:
            dest = config.get(key)
            if dest is None:
                continue
            if not isinstance(dest, dict):
                raise _wrong_type(f"LogConfigurations[].{key}", "an object")
            arn = dest.get(arn_key)
            if arn is None:
                continue  # optional in the model
            if not isinstance(arn, str):
                raise _wrong_type(f"LogConfigurations[].{key}.{arn_key}", "a string")
            shown = f"Value '{arn}' at '{where}.{_camel(key)}.{_camel(arn_key)}'"
            if not regex.fullmatch(arn):
                errors.append(f"{shown} failed to satisfy constraint: Member must satisfy "
                              f"regular expression pattern: {regex.pattern}")
            if len(arn) < lo:
                errors.append(f"{shown} failed to satisfy constraint: Member must have length "
                              f"greater than or equal to {lo}")
            if len(arn) > hi:
                errors.append(f"{shown} failed to satisfy constraint: Member must have length "
                              f"less than or equal to {hi}")
    if errors:
        raise _validation_error(errors)

    # Then the request's own rules (AWS's wording, including its "more then once", as floci
    # measured it); the pool is looked up after these.
    no_destination: list[str] = []
    seen: list[str] = []
    repeated: list[str] = []
    for config in configs:
        source = config["EventSource"]
        if not any(isinstance(config.get(key), dict) for key, *_ in DESTINATIONS):
            if source not in no_destination:
                no_destination.append(source)
        if source in seen and source not in repeated:
            repeated.append(source)
        seen.append(source)
    problems = ""
    if no_destination:
        problems += (" Following event sources in request have no destination: "
                     f"[{', '.join(no_destination)}].")
    if repeated:
        problems += (" Following event sources appear more then once in a request: "
                     f"[{', '.join(repeated)}].")
    if problems:
        raise AwsError("InvalidParameterException", "Request validation Failed." + problems)

    stored = []
    for config in configs:
        entry: dict[str, Any] = {"LogLevel": config["LogLevel"], "EventSource": config["EventSource"]}
        for key, arn_key, *_ in DESTINATIONS:
            dest = config.get(key)
            if isinstance(dest, dict):
                entry[key] = {arn_key: dest[arn_key]} if dest.get(arn_key) is not None else {}
        stored.append(entry)
    return pool_id, stored


def _check_log_group(arn: str, account: str) -> None:
    """A CloudWatch Logs destination must be an existing log group of the pool's account, not
    encrypted with KMS (the API reference's rules; the messages are the emulator's)."""
    parts = cloudwatch_logs.log_group_arn_parts(arn)
    if parts is None or arn.endswith(":*"):
        raise AwsError("InvalidParameterException",
                       f"LogGroupArn is not the ARN of a CloudWatch Logs log group: {arn}")
    region, arn_account, name = parts
    if arn_account != account:
        raise AwsError("InvalidParameterException",
                       f"The log group {arn} must be in the same AWS account as the user pool")
    group = cloudwatch_logs.find_log_group(account, region, name)
    if group is None:
        raise AwsError("InvalidParameterException", f"The log group {arn} does not exist")
    if group.kms_key_id:
        raise AwsError("InvalidParameterException",
                       f"The log group {arn} must not be encrypted with AWS KMS")


def _answer(pool: CognitoIdpUserPool) -> dict:
    return {"LogDeliveryConfiguration": {
        "UserPoolId": pool.id,
        "LogConfigurations": [json.loads(json.dumps(c)) for c in pool_log_delivery(pool)],
    }}


def set_log_delivery_configuration(params: dict, backends, region: str, account: str) -> dict:
    """SetLogDeliveryConfiguration: replaces the pool's configurations (an empty list clears
    them). `backends`: the account's moto cognito-idp backends."""
    pool_id, configs = _set_request(params)
    pool = auth_events.find_pool(backends, region, pool_id)
    if any(c["EventSource"] == "userAuthEvents" for c in configs) and _pool_tier(pool) != "PLUS":
        # The exception is AWS's; the rule's exact form and the message are not checked.
        raise AwsError("FeatureUnavailableInTierException",
                       "Exporting user activity logs (userAuthEvents) requires the Plus "
                       "feature plan")
    for config in configs:
        arn = config.get("CloudWatchLogsConfiguration", {}).get("LogGroupArn")
        if arn is not None:
            _check_log_group(arn, account)
    pool_log_delivery(pool)[:] = configs
    return _answer(pool)


def get_log_delivery_configuration(params: dict, backends, region: str) -> dict:
    """GetLogDeliveryConfiguration: a pool without configurations answers an empty list."""
    errors: list[str] = []
    pool_id = _string_member(params, "UserPoolId", errors, _POOL_ID_RE.pattern,
                             _POOL_ID_RE.fullmatch, 55, required=True)
    if errors:
        raise _validation_error(errors)
    return _answer(auth_events.find_pool(backends, region, pool_id))


def handle(op: str, params: dict, backends, region: str, account: str) -> dict:
    if op == "SetLogDeliveryConfiguration":
        return set_log_delivery_configuration(params, backends, region, account)
    return get_log_delivery_configuration(params, backends, region)


# --------------------------------------------------------------------------- export


def _java_date(at: float) -> str:
    """As Java's Date.toString in UTC, as AWS prints creationDate: 'Wed Jul 17 17:25:55 UTC 2024'."""
    d = _dt.datetime.fromtimestamp(at, _dt.timezone.utc)
    return (f"{_DAYS[d.weekday()]} {_MONTHS[d.month - 1]} {d.day:02d} "
            f"{d:%H:%M:%S} UTC {d.year}")


def activity_record(pool: CognitoIdpUserPool, user: CognitoIdpUser,
                    event: auth_events.AuthEvent) -> dict:
    """The exported user activity log record of an event, in the shape of the Cognito
    developer guide's example. Empty where the emulator has nothing (riskLevel, requestId is
    a fresh UUID, idpName, city, country, event feedback)."""
    ms = int(round(event.at * 1000))
    return {
        "eventTimestamp": str(ms),
        "eventSource": "USER_ACTIVITY",
        "logLevel": "INFO",
        "message": {
            "version": "1",
            "eventId": event.event_id,
            "eventType": event.event_type,
            "userSub": user.attribute_lookup.get("sub", user.id),
            "userName": user.username,
            "userPoolId": pool.id,
            "clientId": event.client_id,
            "creationDate": _java_date(event.at),
            "eventResponse": event.response,
            "riskLevel": "",
            "riskDecision": RISK_DECISIONS.get(event.risk, event.risk),
            # The element shape is not in AWS's example (it shows an empty list): this one
            # mirrors AdminListUserAuthEvents' ChallengeResponseType.
            "challenges": [{"challengeName": name, "challengeResponse": outcome}
                           for name, outcome in event.challenges],
            "deviceName": "Other, Other",
            "ipAddress": event.ip,
            "requestId": str(uuid.uuid4()),
            "idpName": "",
            "compromisedCredentialDetected": "false",
            "city": "",
            "country": "",
            "eventFeedbackValue": "",
            "eventFeedbackDate": "",
            "eventFeedbackProvider": "",
            "hasContextData": "true" if event.has_context_data else "false",
        },
        "logSourceId": {"userPoolId": pool.id},
    }


def stream_name(at: float) -> str:
    return STREAM_PREFIX + _dt.datetime.fromtimestamp(at, _dt.timezone.utc).strftime("%Y-%m-%d")


def export_event(pool: CognitoIdpUserPool, user: CognitoIdpUser,
                 event: auth_events.AuthEvent) -> None:
    """auth_events.py's hook: writes the event to the log group of the pool's userAuthEvents
    / INFO CloudWatch Logs configuration, if any. A log group deleted since the configuration
    was set gets nothing (the event is dropped, as an undeliverable log)."""
    for config in pool_log_delivery(pool):
        if config["EventSource"] != "userAuthEvents" or config["LogLevel"] != "INFO":
            continue
        arn = config.get("CloudWatchLogsConfiguration", {}).get("LogGroupArn")
        parts = cloudwatch_logs.log_group_arn_parts(arn) if arn else None
        if parts is None:
            continue
        group = cloudwatch_logs.find_log_group(parts[1], parts[0], parts[2])
        if group is None:
            continue
        record = activity_record(pool, user, event)
        cloudwatch_logs.put_event(group, stream_name(event.at), int(round(event.at * 1000)),
                                  json.dumps(record, separators=(",", ":")))


auth_events.EVENT_HOOKS.append(export_event)
