"""Threat protection and users' sign-in events, which moto 5.2.5 lacks, for the emulator.

* Feature plans: every pool reports a ``UserPoolTier``, ``ESSENTIALS`` unless one was given
  (installed into moto's default pool config when this module is imported).
* CreateUserPool / UpdateUserPool (and control-API pools with a ``config``) are checked:
  threat protection (``UserPoolAddOns.AdvancedSecurityMode`` AUDIT or ENFORCED) needs the
  PLUS plan.
* AdminListUserAuthEvents is answered here, from events kept on moto's user objects: seeded
  through the control API (``/_emulator/pools/<id>/auth-events``), or recorded when
  AdminInitiateAuth / InitiateAuth checks a password in a pool with threat protection on.
  Every event kept is also handed to EVENT_HOOKS (sign_in_logs.py's export to CloudWatch
  Logs).

cognito_emulator.py calls in from its AWS-call path and its control API, holding STATE_LOCK
(read for AdminListUserAuthEvents and GET, write otherwise); nothing here locks. The API
reference's request constraints, enums and defaults are followed; messages AWS's docs do
not give are marked where they are made up (see README.md, "Threat protection and sign-in
events").
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import re
import time
import unicodedata
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from moto.cognitoidp.models import (
    DEFAULT_USER_POOL_CONFIG,
    CognitoIdpUser,
    CognitoIdpUserPool,
    cognitoidp_backends,
)

from control_common import _check_keys, _list_field, _parse_date, _req_str, bad, not_found

TIERS = ("LITE", "ESSENTIALS", "PLUS")
# CreateUserPool: "UserPoolTier ... Defaults to ESSENTIALS". moto copies its default config
# into a pool on CreateUserPool and again on UpdateUserPool (which, as on AWS, resets every
# parameter the update omits to its default), so the tier goes back to ESSENTIALS on an
# update that does not name it.
DEFAULT_TIER = "ESSENTIALS"
DEFAULT_USER_POOL_CONFIG["UserPoolTier"] = DEFAULT_TIER

SECURITY_MODES = ("OFF", "AUDIT", "ENFORCED")
PROTECTED_MODES = ("AUDIT", "ENFORCED")  # the modes in which Cognito logs auth events

EVENT_TYPES = ("SignIn", "SignUp", "ForgotPassword", "PasswordChange", "ResendCode")
EVENT_RESPONSES = ("Pass", "Fail", "InProgress")
RISK_DECISIONS = ("NoRisk", "AccountTakeover", "Block")
CHALLENGE_NAMES = ("Password", "Mfa")
CHALLENGE_RESPONSES = ("Success", "Failure")

# AdminListUserAuthEvents: MaxResults 0..60, "Returns 60 events if you set MaxResults to 0,
# or if you don't include a MaxResults parameter".
MAX_RESULTS = 60

POOL_CONFIG_OPS = ("CreateUserPool", "UpdateUserPool")

# The auth flows that check a password (moto's only flows that do).
SIGN_IN_OPS = ("AdminInitiateAuth", "InitiateAuth")
PASSWORD_FLOWS = ("ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH", "USER_PASSWORD_AUTH")

SEED_IP = "192.0.2.1"  # TEST-NET-1 (RFC 5737)
SEED_KEYS = ("username", "type", "response", "at", "challenges", "risk", "ip")


class AwsError(Exception):
    """An awsJson1_1 error (HTTP 400) that cognito_emulator.py answers for this module."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _validation_error(errors: list[str]) -> AwsError:
    n = len(errors)
    return AwsError(
        "InvalidParameterException",
        f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(errors),
    )


def _wrong_type(key: str, expected: str) -> AwsError:
    # A body that does not deserialize; AWS's wording for Cognito is not known.
    return AwsError("SerializationException", f"'{key}' must be {expected}")


def _enum_error(value: str, member: str, allowed: Iterable[str]) -> str:
    return (f"Value '{value}' at '{member}' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(allowed)}]")


# --------------------------------------------------------------------------- feature plan


def check_pool_config(params: dict) -> None:
    """Checks CreateUserPool / UpdateUserPool parameters (or a control-API pool's config):
    the enums first (InvalidParameterException), then the feature plan
    (FeatureUnavailableInTierException: threat protection needs PLUS; an omitted tier is
    ESSENTIALS for UpdateUserPool too, see DEFAULT_TIER)."""
    errors = []
    mode = "OFF"
    addons = params.get("UserPoolAddOns")
    if addons is not None:
        if not isinstance(addons, dict):
            raise _wrong_type("UserPoolAddOns", "an object")
        mode = addons.get("AdvancedSecurityMode")
        if mode is None:  # required in UserPoolAddOnsType
            errors.append("Value null at 'userPoolAddOns.advancedSecurityMode' failed to "
                          "satisfy constraint: Member must not be null")
        elif not isinstance(mode, str):
            raise _wrong_type("UserPoolAddOns.AdvancedSecurityMode", "a string")
        elif mode not in SECURITY_MODES:
            errors.append(_enum_error(mode, "userPoolAddOns.advancedSecurityMode", SECURITY_MODES))
    tier = params.get("UserPoolTier")
    if tier is None:
        tier = DEFAULT_TIER
    elif not isinstance(tier, str):
        raise _wrong_type("UserPoolTier", "a string")
    elif tier not in TIERS:
        errors.append(_enum_error(tier, "userPoolTier", TIERS))
    if errors:
        raise _validation_error(errors)
    if mode in PROTECTED_MODES and tier != "PLUS":
        # The exception is AWS's; its message is not checked against AWS.
        raise AwsError("FeatureUnavailableInTierException",
                       "Threat protection requires the Plus feature plan")


def threat_protection_on(pool: CognitoIdpUserPool) -> bool:
    addons = pool.extended_config.get("UserPoolAddOns") or {}
    return addons.get("AdvancedSecurityMode") in PROTECTED_MODES


# --------------------------------------------------------------------------- events


_SEQ = itertools.count()  # insertion order, process-wide: breaks ties in CreationDate


@dataclass(frozen=True)
class AuthEvent:
    event_type: str
    response: str
    at: float  # epoch seconds
    challenges: tuple[tuple[str, str], ...]
    risk: str
    ip: str
    client_id: str = ""  # the app client of a recorded sign-in; "" for seeded events
    has_context_data: bool = False  # the IP came from ContextData / UserContextData
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    seq: int = field(default_factory=lambda: next(_SEQ))

    @property
    def newness(self) -> tuple[float, int]:
        """Sort key, descending for newest first."""
        return self.at, self.seq

    @property
    def token(self) -> str:
        """The NextToken of a page that starts at this event, shaped like AWS's
        ("<eventId>#<date>")."""
        date = _dt.datetime.fromtimestamp(self.at, _dt.timezone.utc)
        return f"{self.event_id}#{date.isoformat(timespec='milliseconds').replace('+00:00', 'Z')}"

    def shape(self) -> dict:
        """As AuthEventType. awsJson1_1 sends timestamps as epoch seconds (numbers); no
        RiskLevel, EventFeedback nor device/location fields (all optional)."""
        return {
            "EventId": self.event_id,
            "EventType": self.event_type,
            "CreationDate": round(self.at, 3),
            "EventResponse": self.response,
            "EventRisk": {"RiskDecision": self.risk, "CompromisedCredentialsDetected": False},
            "ChallengeResponses": [
                {"ChallengeName": name, "ChallengeResponse": outcome}
                for name, outcome in self.challenges
            ],
            "EventContextData": {"IpAddress": self.ip},
        }


def user_events(user: CognitoIdpUser) -> list[AuthEvent]:
    """A user's events, kept on moto's user object: they go with the user (AdminDeleteUser,
    the control API's delete), with its pool, and with /_emulator/reset."""
    return user.__dict__.setdefault("emulator_auth_events", [])


# Called with (pool, user, event) for every event recorded or seeded, after it is kept:
# sign_in_logs.py's export to CloudWatch Logs.
EVENT_HOOKS: list[Callable[[CognitoIdpUserPool, CognitoIdpUser, AuthEvent], None]] = []


def _record(pool: CognitoIdpUserPool, user: CognitoIdpUser, event: AuthEvent) -> None:
    user_events(user).append(event)
    for hook in EVENT_HOOKS:
        hook(pool, user, event)


# ------------------------------------------------------------------ AdminListUserAuthEvents


# The request members' patterns, as the API reference gives them (and AWS prints them).
_POOL_ID_RE = re.compile(r"[\w-]+_[0-9a-zA-Z]+", re.ASCII)
_TOKEN_RE = re.compile(r"[\S]+", re.ASCII)
_USERNAME_PATTERN = r"[\p{L}\p{M}\p{S}\p{N}\p{P}]+"  # Python's re has no \p{..}: see below


def _username_ok(value: str) -> bool:
    """Matches _USERNAME_PATTERN: letters, marks, symbols, numbers, punctuation only."""
    return value != "" and all(unicodedata.category(c)[0] in "LMSNP" for c in value)


def _string_member(params: dict, key: str, errors: list[str], pattern: str,
                   matches: Callable[[str], Any], max_len: int,
                   required: bool = False, sensitive: bool = False) -> str | None:
    """Checks one string member against its constraints (as the API reference's shapes give
    them), adding a message per violation. Sensitive members (Username) are not echoed in
    AWS's validation messages."""
    member = key[0].lower() + key[1:]
    val = params.get(key)
    if val is None:
        if required:
            errors.append(f"Value null at '{member}' failed to satisfy constraint: "
                          "Member must not be null")
        return None
    if not isinstance(val, str):
        raise _wrong_type(key, "a string")
    shown = f"Value at '{member}'" if sensitive else f"Value '{val}' at '{member}'"
    if not matches(val):
        errors.append(f"{shown} failed to satisfy constraint: "
                      f"Member must satisfy regular expression pattern: {pattern}")
    if val == "":
        errors.append(f"{shown} failed to satisfy constraint: "
                      "Member must have length greater than or equal to 1")
    if len(val) > max_len:
        errors.append(f"{shown} failed to satisfy constraint: "
                      f"Member must have length less than or equal to {max_len}")
    return val


def _list_request(params: dict) -> tuple[str, str, int, str | None]:
    """(pool id, username, page size, NextToken) of a valid request, else the
    InvalidParameterException naming every violated constraint, in member order."""
    errors: list[str] = []
    pool_id = _string_member(params, "UserPoolId", errors, _POOL_ID_RE.pattern,
                             _POOL_ID_RE.fullmatch, 55, required=True)
    username = _string_member(params, "Username", errors, _USERNAME_PATTERN,
                              _username_ok, 128, required=True, sensitive=True)
    limit = params.get("MaxResults")
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise _wrong_type("MaxResults", "an integer")
        for ok, bound in ((limit >= 0, "greater than or equal to 0"),
                          (limit <= MAX_RESULTS, f"less than or equal to {MAX_RESULTS}")):
            if not ok:
                errors.append(f"Value '{limit}' at 'maxResults' failed to satisfy constraint: "
                              f"Member must have value {bound}")
    token = _string_member(params, "NextToken", errors, _TOKEN_RE.pattern, _TOKEN_RE.fullmatch,
                           131072)
    if errors:
        raise _validation_error(errors)
    return pool_id, username, limit or MAX_RESULTS, token


def find_pool(backends, region: str, pool_id: str) -> CognitoIdpUserPool:
    """The pool an AWS request names, or AWS's ResourceNotFoundException."""
    try:
        pool = backends[region].user_pools.get(pool_id)
    except KeyError:  # a region moto does not know
        pool = None
    if pool is None:
        raise AwsError("ResourceNotFoundException", f"User pool {pool_id} does not exist.")
    return pool


def list_user_auth_events(params: dict, backends, region: str) -> dict:
    """AdminListUserAuthEvents. `backends`: the account's moto cognito-idp backends."""
    pool_id, username, limit, token = _list_request(params)
    pool = find_pool(backends, region, pool_id)
    if not threat_protection_on(pool):
        # The exception is AWS's; its message is not checked against AWS.
        raise AwsError("UserPoolAddOnNotEnabledException",
                       "Threat protection is not enabled for this user pool")
    user = pool._get_user(username)  # as moto's Admin* calls: username, or email/phone alias
    if user is None:
        raise AwsError("UserNotFoundException", "User does not exist.")
    events = sorted(user_events(user), key=lambda e: e.newness, reverse=True)
    start = 0
    if token is not None:
        # Only a token this listing handed out (it names the next page's first event of
        # this user) is valid; one whose event was removed since is not.
        start = next((i for i, e in enumerate(events) if e.token == token), -1)
        if start < 0:
            raise AwsError("InvalidParameterException", "Invalid NextToken.")
    page = events[start:start + limit]
    answer: dict[str, Any] = {"AuthEvents": [e.shape() for e in page]}
    if start + limit < len(events):
        answer["NextToken"] = events[start + limit].token
    return answer


# --------------------------------------------------------------------------- sign-ins


def _sign_in_pool(op: str, params: dict, backends, region: str) -> CognitoIdpUserPool | None:
    if op == "AdminInitiateAuth":
        pool_id = params.get("UserPoolId")
        return backends[region].user_pools.get(pool_id) if isinstance(pool_id, str) else None
    # InitiateAuth names only the app client (and is not signed): moto looks for it in
    # every account's and region's pools, in this order.
    client_id = params.get("ClientId")
    if not isinstance(client_id, str):
        return None
    for _, by_region in list(cognitoidp_backends.items()):
        for region_name, backend in list(by_region.items()):
            if region_name == "global":
                continue
            for pool in backend.user_pools.values():
                if client_id in pool.clients:
                    return pool
    return None


def record_sign_in(op: str, params: dict, backends, region: str, status: int,
                   answer: list[bytes], remote_addr: str | None) -> None:
    """After moto answered AdminInitiateAuth / InitiateAuth: a password flow that returned
    tokens is a SignIn Pass, a NotAuthorizedException (wrong password, disabled user) for
    an existing user a SignIn Fail; recorded only in pools with threat protection on.
    Challenges (MFA, NEW_PASSWORD_REQUIRED) and their responses are not recorded."""
    if params.get("AuthFlow") not in PASSWORD_FLOWS:
        return
    try:
        body = json.loads(b"".join(answer))
    except ValueError:
        return
    if not isinstance(body, dict):
        return
    if status == 200 and "AuthenticationResult" in body:
        response, outcome = "Pass", "Success"
    elif status == 400 and body.get("__type") == "NotAuthorizedException":
        response, outcome = "Fail", "Failure"
    else:
        return
    pool = _sign_in_pool(op, params, backends, region)
    auth = params.get("AuthParameters")
    username = auth.get("USERNAME") if isinstance(auth, dict) else None
    if pool is None or not threat_protection_on(pool) or not isinstance(username, str):
        return
    user = pool._get_user(username)
    if user is None:
        return
    # The user's IP as the app passes it (AdminInitiateAuth's ContextData, InitiateAuth's
    # UserContextData), else the caller's address, as Cognito sees it.
    context = params.get("ContextData" if op == "AdminInitiateAuth" else "UserContextData")
    ip = context.get("IpAddress") if isinstance(context, dict) else None
    from_context = isinstance(ip, str) and bool(ip)
    if not from_context:
        ip = remote_addr or "127.0.0.1"
    client_id = params.get("ClientId")
    _record(pool, user, AuthEvent(
        "SignIn", response, time.time(), (("Password", outcome),), "NoRisk", ip,
        client_id=client_id if isinstance(client_id, str) else "",
        has_context_data=from_context,
    ))


# --------------------------------------------------------------------------- control API


def _enum_field(raw: dict, key: str, allowed: tuple[str, ...], default: str, what: str) -> str:
    val = raw.get(key, default)
    if val not in allowed:
        raise bad(f"{what}: '{key}' must be one of {list(allowed)}")
    return val


def _seed_event(raw: Any, idx: int, pool: CognitoIdpUserPool) -> tuple[CognitoIdpUser, AuthEvent]:
    what = f"events[{idx}]"
    _check_keys(raw, SEED_KEYS, what)
    username = _req_str(raw, "username", what)
    user = pool.users.get(username)
    if user is None:
        raise bad(f"{what}: no user {username!r}")
    event_type = _enum_field(raw, "type", EVENT_TYPES, "SignIn", what)
    response = _enum_field(raw, "response", EVENT_RESPONSES, "Pass", what)
    risk = _enum_field(raw, "risk", RISK_DECISIONS, "NoRisk", what)
    if raw.get("at") is None:
        raise bad(f"{what}: missing 'at'")
    at = _parse_date(raw["at"], f"{what}.at").replace(tzinfo=_dt.timezone.utc).timestamp()
    challenges = raw.get("challenges", [["Password", "Success"]] if event_type == "SignIn" else [])
    if not isinstance(challenges, list) or not all(
        isinstance(c, list) and len(c) == 2
        and c[0] in CHALLENGE_NAMES and c[1] in CHALLENGE_RESPONSES
        for c in challenges
    ):
        raise bad(f"{what}: 'challenges' must be a list of [name, response] with name one of "
                  f"{list(CHALLENGE_NAMES)} and response one of {list(CHALLENGE_RESPONSES)}")
    ip = _req_str(raw, "ip", what) if "ip" in raw else SEED_IP
    return user, AuthEvent(event_type, response, at, tuple(map(tuple, challenges)), risk, ip)


def seed_events(pool: CognitoIdpUserPool, body: dict) -> dict:
    """POST /_emulator/pools/<id>/auth-events: every event is checked before any is added.
    Works whatever the pool's threat-protection mode."""
    _check_keys(body, ("events",), "body")
    seeded = [_seed_event(raw, i, pool) for i, raw in enumerate(_list_field(body, "events"))]
    for user, event in seeded:
        _record(pool, user, event)
    return {"added": len(seeded)}


def _users(pool: CognitoIdpUserPool, username: str | None) -> list[CognitoIdpUser]:
    if username is None:
        return list(pool.users.values())
    user = pool.users.get(username)
    if user is None:
        raise not_found(f"no user {username!r} in {pool.id}")
    return [user]


def list_events(pool: CognitoIdpUserPool, username: str | None) -> dict:
    """GET /_emulator/pools/<id>/auth-events[?username=]: newest first, shaped as
    AdminListUserAuthEvents shapes them, plus "Username"."""
    owned = [(e, u.username) for u in _users(pool, username) for e in user_events(u)]
    owned.sort(key=lambda pair: pair[0].newness, reverse=True)
    return {"events": [{"Username": name, **e.shape()} for e, name in owned]}


def clear_events(pool: CognitoIdpUserPool, username: str | None) -> dict:
    """DELETE /_emulator/pools/<id>/auth-events[?username=]."""
    removed = 0
    for user in _users(pool, username):
        removed += len(user_events(user))
        user_events(user).clear()
    return {"removed": removed}
