#!/usr/bin/env python3
"""AWS Cognito user-pool emulator for baton-cognito's tests and demo.

One process, one multi-threaded HTTP server that serves

* moto's real cognito-idp implementation (AWS JSON 1.1 protocol: ``POST /`` with
  ``X-Amz-Target: AWSCognitoIdentityProviderService.<Operation>``; the SigV4
  credential scope selects the region), and
* a JSON control API under ``/_emulator/`` for seeding pools in-process (fast),
  injecting faults (throttling, 5xx, dropped connections, delays, auth errors)
  and counting the AWS calls received.

AdminCreateUser's MessageAction and DesiredDeliveryMediums, which moto ignores, are
checked as on AWS, and the invitations sent are recorded per pool. Feature plans,
threat protection and users' sign-in events (AdminListUserAuthEvents, which moto lacks)
come from auth_events.py beside this file; Set/GetLogDeliveryConfiguration and the export of
sign-in events to CloudWatch Logs from sign_in_logs.py; CloudWatch Logs calls
(``X-Amz-Target: Logs_20140328.<Operation>``) go to moto's logs backend, with FilterLogEvents'
filter patterns evaluated by cloudwatch_logs.py.

Several AWS accounts (accounts.py): STS calls (query protocol, SigV4 service ``sts``) go to
moto's STS through the same path, AssumeRole's parameters checked first; every AWS call acts
in the account of the access key that signs it (credentials AssumeRole issued: the role's
account; any other key: the default account, ``MOTO_ACCOUNT_ID`` or 123456789012). The
control API can create pools in any account and finds a pool in whichever account holds it.

Optionally, like tools/fast-emulator (its README), it adds a fixed
latency to every AWS call and enforces Cognito's request-rate quotas (off by default).

Start::

    python cognito_emulator.py [--host 127.0.0.1] [--port 0]
        [--sample-users N --sample-groups G --sample-seed S --sample-region R]
        [--latency-ms L] [--quota-scale F | --no-quota]
        [--no-stdin-watch]

stdout protocol: exactly one line ``LISTENING http://HOST:PORT`` once the socket is
bound, then (only with ``--sample-*``) ``SAMPLE_POOL <pool_id> <region>`` once the
sample pool is seeded. Nothing else is ever written to stdout (Python-level
prints are redirected to stderr afterwards). The process exits when its stdin
reaches EOF (so a dead test harness never leaves it running; pass
``--no-stdin-watch`` to run it by hand in the background), and on SIGTERM/SIGINT.

See README.md beside this file for the control API.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import io
import json
import math
import os
import random
import re
import signal
import socket
import string
import struct
import sys
import threading
import time
import uuid
from collections import deque
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs, unquote_to_bytes

import logging  # noqa: E402

from werkzeug.serving import make_server  # noqa: E402

from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.cognitoidp.models import (  # noqa: E402
    CognitoIdpUserPool,
    UserStatus,
    cognitoidp_backends,
)
from moto.cognitoidp.utils import validate_username_format  # noqa: E402
from moto.moto_api._internal import mock_random  # noqa: E402

import accounts  # noqa: E402  (beside this file: the script's directory is on sys.path)
import auth_events  # noqa: E402
import cloudwatch_logs  # noqa: E402
import sign_in_logs  # noqa: E402  (registers its export hook with auth_events)
from control_common import (  # noqa: E402
    ApiError,
    _check_keys,
    _list_field,
    _opt_str,
    _parse_date,
    _req_str,
    bad,
    not_found,
)

CONTROL_PREFIX = "/_emulator/"
JSON_11 = "application/x-amz-json-1.1"

USER_STATUSES = (
    "UNCONFIRMED",
    "CONFIRMED",
    "ARCHIVED",
    "COMPROMISED",
    "UNKNOWN",
    "RESET_REQUIRED",
    "FORCE_CHANGE_PASSWORD",
    "EXTERNAL_PROVIDER",
)
# moto compares statuses with `is UserStatus.X` in its auth flows: use its enum
# members where they exist, plain strings for the rest.
_STATUS_VALUES: dict[str, Any] = {
    s: (UserStatus[s] if s in UserStatus.__members__ else s) for s in USER_STATUSES
}

FAULT_KINDS = (
    "throttle",
    "internal",
    "unavailable",
    "delay",
    "reset",
    "not_authorized",
    "access_denied",
    "error",
)

READ_OP_PREFIXES = ("List", "Get", "Describe", "AdminGet", "AdminList")
READ_OPS = ("FilterLogEvents",)

# CloudWatch Logs calls: X-Amz-Target "Logs_20140328.<Op>" (SigV4 service "logs").
LOGS_TARGET_PREFIX = "Logs_"

# Request members copied into the request log: (request member, log entry key).
COGNITO_LOGGED_MEMBERS = (("Limit", "limit"), ("Filter", "filter"), ("GroupName", "group"),
                          ("Username", "username"))
LOGS_LOGGED_MEMBERS = (("limit", "limit"), ("filterPattern", "filter"),
                       ("logGroupName", "log_group"), ("logGroupIdentifier", "log_group"))
STS_LOGGED_MEMBERS = (("RoleArn", "role_arn"), ("RoleSessionName", "session_name"),
                      ("ExternalId", "external_id"))

REQUEST_LOG_MAX = 20000


def account_id() -> str:
    """The default account: that of every request not signed with a key moto issued (see
    accounts.py), and of control-API pools created without an "account"."""
    return accounts.default_account()


# --------------------------------------------------------------------------- errors


class DropConnection(BaseException):
    """Raised by the WSGI app to make the request handler drop the TCP connection.

    A BaseException (not Exception) so werkzeug's run_wsgi does not turn it into a
    500 response; EmulatorRequestHandler.handle catches it.
    """


# --------------------------------------------------------------------------- locking


class RWLock:
    """Writer-preferring readers/writer lock.

    AWS read operations share it; AWS write operations, moto-api calls and control
    API mutations take it exclusively, so seeding never races a listing.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._writers_waiting = 0

    def acquire_read(self) -> None:
        with self._cond:
            while self._writer or self._writers_waiting:
                self._cond.wait()
            self._readers += 1

    def release_read(self) -> None:
        with self._cond:
            self._readers -= 1
            if self._readers == 0:
                self._cond.notify_all()

    def acquire_write(self) -> None:
        with self._cond:
            self._writers_waiting += 1
            try:
                while self._writer or self._readers:
                    self._cond.wait()
            finally:
                self._writers_waiting -= 1
            self._writer = True

    def release_write(self) -> None:
        with self._cond:
            self._writer = False
            self._cond.notify_all()

    class _Ctx:
        def __init__(self, acquire: Callable[[], None], release: Callable[[], None]):
            self._acquire, self._release = acquire, release

        def __enter__(self) -> None:
            self._acquire()

        def __exit__(self, *exc: Any) -> None:
            self._release()

    def read(self) -> "RWLock._Ctx":
        return RWLock._Ctx(self.acquire_read, self.release_read)

    def write(self) -> "RWLock._Ctx":
        return RWLock._Ctx(self.acquire_write, self.release_write)


STATE_LOCK = RWLock()

cloudwatch_logs.install()  # FilterLogEvents' filter patterns (moto's EventMessageFilter)


USER_KEYS = ("username", "attributes", "enabled", "status", "create_date", "last_modified_date")
GROUP_KEYS = ("name", "description", "precedence", "role_arn", "create_date", "last_modified_date")


class UserSpec:
    __slots__ = ("username", "attributes", "enabled", "status", "sub", "create_date", "modified_date")

    @classmethod
    def trusted(cls, username: str, attributes: list[dict[str, str]], sub: str | None,
                enabled: bool, status: str, create_date, modified_date) -> "UserSpec":
        """For generated data that is valid by construction (skips validation)."""
        self = cls.__new__(cls)
        self.username, self.attributes, self.sub = username, attributes, sub
        self.enabled, self.status = enabled, status
        self.create_date, self.modified_date = create_date, modified_date
        return self

    def __init__(self, raw: Any, idx: int):
        what = f"users[{idx}]"
        _check_keys(raw, USER_KEYS, what)
        self.username = _req_str(raw, "username", what)
        attrs = raw.get("attributes") or {}
        if not isinstance(attrs, dict):
            raise bad(f"{what}: 'attributes' must be an object of name -> string value")
        out: list[dict[str, str]] = []
        sub = None
        for name, value in attrs.items():
            if not isinstance(name, str) or not name:
                raise bad(f"{what}: attribute names must be non-empty strings")
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, (int, float)):
                value = str(value)
            elif not isinstance(value, str):
                raise bad(f"{what}: attribute {name!r} must be a string")
            if name == "sub":
                if not value:
                    raise bad(f"{what}: 'sub' must be non-empty")
                sub = value
            out.append({"Name": name, "Value": value})
        self.attributes = out
        self.sub = sub
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            raise bad(f"{what}: 'enabled' must be a boolean")
        self.enabled = enabled
        status = raw.get("status", "CONFIRMED")
        if status not in _STATUS_VALUES:
            raise bad(f"{what}: 'status' must be one of {list(USER_STATUSES)}")
        self.status = status
        self.create_date = _parse_date(raw.get("create_date"), f"{what}.create_date")
        self.modified_date = _parse_date(
            raw.get("last_modified_date"), f"{what}.last_modified_date"
        )


class GroupSpec:
    __slots__ = ("name", "description", "precedence", "role_arn", "create_date", "modified_date")

    def __init__(self, raw: Any, idx: int):
        what = f"groups[{idx}]"
        _check_keys(raw, GROUP_KEYS, what)
        self.name = _req_str(raw, "name", what)
        self.description = _opt_str(raw, "description", what)
        if self.description is not None and len(self.description) > 2048:
            raise bad(f"{what}: 'description' longer than 2048 characters")
        prec = raw.get("precedence")
        if prec is not None and (isinstance(prec, bool) or not isinstance(prec, int) or prec < 0):
            raise bad(f"{what}: 'precedence' must be a non-negative integer or null")
        self.precedence = prec
        self.role_arn = _opt_str(raw, "role_arn", what)
        self.create_date = _parse_date(raw.get("create_date"), f"{what}.create_date")
        self.modified_date = _parse_date(
            raw.get("last_modified_date"), f"{what}.last_modified_date"
        )


def _parse_membership(raw: Any, idx: int) -> tuple[str, str]:
    what = f"memberships[{idx}]"
    if isinstance(raw, dict):
        _check_keys(raw, ("group", "username"), what)
        g, u = raw.get("group"), raw.get("username")
    elif isinstance(raw, (list, tuple)) and len(raw) == 2:
        g, u = raw
    else:
        raise bad(f'{what}: must be ["group name", "username"] or {{"group":..,"username":..}}')
    if not isinstance(g, str) or not g or not isinstance(u, str) or not u:
        raise bad(f"{what}: group and username must be non-empty strings")
    return g, u


def _parse_quota_body(body: dict) -> tuple[float | None, bool | None]:
    """POST /_emulator/quota: (scale, disabled); a scale alone means "enforce at this scale"."""
    _check_keys(body, ("scale", "disabled"), "body")
    scale = body.get("scale")
    if scale is not None:
        if isinstance(scale, bool) or not isinstance(scale, (int, float)):
            raise bad("'scale' must be a positive number")
        try:
            scale = float(scale)
        except OverflowError:
            raise bad("'scale' must be a positive number") from None
        if not (scale > 0 and math.isfinite(scale)):
            raise bad("'scale' must be a positive number")
    disabled = body.get("disabled")
    if disabled is not None and not isinstance(disabled, bool):
        raise bad("'disabled' must be a boolean")
    if disabled is None and scale is not None:
        disabled = False
    return scale, disabled


# --------------------------------------------------------------------------- seeding


_POOL_ID_CHARS = string.ascii_letters + string.digits


def _backend(region: str, account: str | None = None):
    acct = cognitoidp_backends[account or account_id()]
    if region not in acct.regions and region not in acct.keys():
        raise bad(f"unknown region {region!r}")
    return acct[region]


def _validate_account(value: Any) -> str:
    try:
        return accounts.check_account(value)
    except ValueError as e:
        raise bad(str(e)) from None


def _validate_region(region: Any) -> str:
    if not isinstance(region, str) or not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        raise bad("'region' must be an AWS region name like 'us-east-1'")
    _backend(region)
    return region


def _pool_anywhere(pool_id: str) -> CognitoIdpUserPool | None:
    """The pool with this id in whichever account holds it (the control API's ids are
    unique across accounts). Looks only at backends that exist."""
    region = pool_id.rsplit("_", 1)[0] if "_" in pool_id else ""
    for _, by_region in list(cognitoidp_backends.items()):
        backend = by_region.get(region)  # dict.get: creates no backend
        pool = backend.user_pools.get(pool_id) if backend is not None else None
        if pool is not None:
            return pool
    return None


def _find_pool(pool_id: str) -> CognitoIdpUserPool:
    pool = _pool_anywhere(pool_id)
    if pool is None:
        raise not_found(f"user pool {pool_id!r} not found")
    return pool


def _new_pool_id(backend, region: str, rng: random.Random | None = None) -> str:
    """A realistic pool id: '<region>_' + 9 alphanumerics (moto's own ids are 32 hex)."""
    for _ in range(100):
        r = rng if rng is not None else mock_random
        pid = f"{region}_" + "".join(r.choice(_POOL_ID_CHARS) for _ in range(9))
        if pid not in backend.user_pools and _pool_anywhere(pid) is None:
            return pid
        rng = None  # collision with a deterministic id: fall back to random ones
    raise ApiError(500, "could not allocate a pool id")


def create_pool(
    region: str,
    name: str,
    custom_attributes: Iterable[str] = (),
    pool_id: str | None = None,
    config: dict | None = None,
    id_rng: random.Random | None = None,
    account: str | None = None,
) -> CognitoIdpUserPool:
    """Create a pool through moto's backend with a realistic id, in `account` (default: the
    default account). Caller holds the write lock."""
    backend = _backend(region, account)
    if pool_id is not None:
        if not re.fullmatch(re.escape(region) + r"_[0-9A-Za-z]+", pool_id) or len(pool_id) > 55:
            raise bad(f"'pool_id' must look like '{region}_AbCdEfGhI'")
        if pool_id in backend.user_pools or _pool_anywhere(pool_id) is not None:
            raise ApiError(409, f"user pool {pool_id!r} already exists")
    else:
        pool_id = _new_pool_id(backend, region, id_rng)
    pool = backend.create_user_pool(name, dict(config or {}))
    # Re-key it under the realistic id (nothing refers to the old id yet).
    del backend.user_pools[pool.id]
    pool.id = pool_id
    pool.arn = pool.arn.rsplit("/", 1)[0] + "/" + pool_id
    backend.user_pools[pool_id] = pool
    customs = sorted({a[len("custom:"):] for a in custom_attributes if a.startswith("custom:")})
    if customs:
        pool.add_custom_attributes(
            [{"Name": c, "AttributeDataType": "String", "Mutable": True} for c in customs]
        )
    return pool


def _declare_custom_attributes(pool: CognitoIdpUserPool, names: Iterable[str]) -> None:
    missing = sorted(
        {
            n[len("custom:"):]
            for n in names
            if n.startswith("custom:") and n not in pool.schema_attributes
        }
    )
    if missing:
        pool.add_custom_attributes(
            [{"Name": c, "AttributeDataType": "String", "Mutable": True} for c in missing]
        )


def seed_into_pool(
    pool: CognitoIdpUserPool,
    users: list[UserSpec],
    groups: list[GroupSpec],
    memberships: list[tuple[str, str]],
) -> dict[str, int]:
    """Validate everything against the pool, then add. Caller holds the write lock.

    All checks happen before the first change, so a 400 leaves the pool untouched.
    """
    backend = pool.backend
    # --- validate
    new_usernames: set[str] = set()
    for i, u in enumerate(users):
        if u.username in new_usernames or u.username in pool.users:
            raise bad(f"users[{i}]: username {u.username!r} already exists")
        new_usernames.add(u.username)
    explicit_subs = [u.sub for u in users if u.sub is not None]
    if explicit_subs:
        existing = {usr.id for usr in pool.users.values()}
        seen: set[str] = set()
        for s in explicit_subs:
            if s in existing or s in seen:
                raise bad(f"duplicate sub {s!r}")
            seen.add(s)
    new_groups: set[str] = set()
    for i, g in enumerate(groups):
        if g.name in new_groups or g.name in pool.groups:
            raise bad(f"groups[{i}]: group {g.name!r} already exists")
        new_groups.add(g.name)
    for i, (g, u) in enumerate(memberships):
        if g not in new_groups and g not in pool.groups:
            raise bad(f"memberships[{i}]: no group {g!r}")
        if u not in new_usernames and u not in pool.users:
            raise bad(f"memberships[{i}]: no user {u!r}")

    # --- apply
    _declare_custom_attributes(
        pool, {a["Name"] for u in users for a in u.attributes if a["Name"].startswith("custom:")}
    )
    pid = pool.id
    for g in groups:
        grp = backend.create_group(pid, g.name, g.description, g.role_arn, g.precedence)
        if g.create_date is not None:
            grp.creation_date = g.create_date
            grp.last_modified_date = g.create_date
        if g.modified_date is not None:
            grp.last_modified_date = g.modified_date
    for u in users:
        usr = backend.admin_create_user(pid, u.username, "SUPPRESS", None, list(u.attributes))
        if u.sub is not None:
            # moto keys pagination tokens on user.id (= sub): keep them identical.
            usr.id = u.sub
            usr.attribute_lookup["sub"] = u.sub
            for a in usr.attributes:
                if a["Name"] == "sub":
                    a["Value"] = u.sub
        usr.enabled = u.enabled
        usr.status = _STATUS_VALUES[u.status]
        if u.create_date is not None:
            usr.create_date = u.create_date
            usr.last_modified_date = u.create_date
        if u.modified_date is not None:
            usr.last_modified_date = u.modified_date
    added_m = 0
    groups_by_name = pool.groups
    users_by_name = pool.users
    for g, u in memberships:
        grp = groups_by_name[g]
        usr = users_by_name[u]
        if usr not in grp.users:
            added_m += 1
        grp.users.add(usr)
        usr.groups.add(grp)
    return {"users": len(users), "groups": len(groups), "memberships": added_m}


def pool_answer(pool: CognitoIdpUserPool, counts: dict | None = None) -> dict:
    ans = {"pool_id": pool.id, "arn": pool.arn, "account": pool.account_id,
           "region": pool.region, "name": pool.name}
    if counts:
        ans["added"] = counts
    return ans


def pool_summary(pool: CognitoIdpUserPool) -> dict:
    statuses: dict[str, int] = {}
    disabled = 0
    for u in pool.users.values():
        st = getattr(u.status, "value", u.status)
        statuses[st] = statuses.get(st, 0) + 1
        if not u.enabled:
            disabled += 1
    groups = {
        name: len(g.users) for name, g in pool.groups.items()
    }
    return {
        "pool_id": pool.id,
        "arn": pool.arn,
        "account": pool.account_id,
        "region": pool.region,
        "name": pool.name,
        "users": len(pool.users),
        "groups": len(pool.groups),
        "memberships": sum(groups.values()),
        "disabled": disabled,
        "statuses": statuses,
        "group_sizes": groups,
        "custom_attributes": sorted(
            n for n in pool.schema_attributes if n.startswith("custom:")
        ),
    }


# --------------------------------------------------------------------------- sample generator

FIRST_NAMES = [
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
    "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
    "Thomas", "Sarah", "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa",
    "Anthony", "Betty", "Mark", "Margaret", "Steven", "Sandra", "Paul", "Ashley",
    "Andrew", "Emily", "Joshua", "Donna", "Kenneth", "Michelle", "Kevin", "Carol",
    "Priya", "Wei", "Aisha", "Hiroshi", "Olga", "Mateo", "Fatima", "Liam",
    "Noah", "Sofia", "Chen", "Amara", "Ravi", "Ingrid", "Kwame", "Yuki",
    "José", "Zoë", "Søren", "Anaïs", "Łukasz", "Björn",
]
LAST_NAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson",
    "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Patel", "Kim", "Chen", "Okafor", "Tanaka", "Ivanova", "Kowalski", "Singh",
    "O'Brien", "Müller", "García", "Nakamura", "Haddad", "Mensah", "Larsen", "Dubois",
]
DEPARTMENTS = [
    "Engineering", "Sales", "Marketing", "Finance", "Human Resources", "Support",
    "Legal", "Operations", "Product", "Design", "IT", "Research",
]
EMAIL_DOMAINS = ["example.com", "example.com", "example.com", "corp.example.com", "example.org"]
NAMED_GROUPS = [
    ("admins", "Administrators of the application"),
    ("engineering", "Engineering department"),
    ("sales", "Sales team"),
    ("support-tier-1", "First-line customer support"),
    ("support-tier-2", "Escalation support"),
    ("finance approvers", "Can approve invoices and refunds"),
    ("Marketing", "Marketing department"),
    ("hr:recruiting", "Recruiting team (HR)"),
    ("eu/contractors", "Contractors based in the EU"),
    ("beta-testers", "Early access to new features"),
    ("on-call: platform", "Platform on-call rotation"),
    ("read-only", "Read-only access to dashboards"),
    ("billing", "Billing administrators"),
    ("security", "Security team"),
    ("data-science", "Data science and analytics"),
    ("legal", "Legal department"),
    ("ops", "Operations"),
    ("design", "Product design"),
    ("product-managers", "Product management"),
    ("interns-2024", "2024 intern cohort"),
    ("Équipe Paris", "Paris office staff"),
    ("\"quoted\" team", "A group whose name has quotes"),
]
PROJECT_WORDS = [
    "apollo", "zephyr", "orion", "atlas", "hermes", "nova", "phoenix", "titan",
    "aurora", "comet", "delta", "falcon", "gemini", "helix", "ion", "juno",
]
ALL_STAFF = "all-staff"
EMPTY_GROUP = "archived-project"

_ASCII_FOLD = str.maketrans({
    "é": "e", "ë": "e", "ø": "o", "ï": "i", "ł": "l", "ö": "o", "ü": "u", "í": "i",
    "á": "a", "à": "a", "ç": "c", "ñ": "n", "Ł": "l", "Ø": "o", "É": "e", "ó": "o",
})


def _ascii_slug(s: str) -> str:
    s = s.lower().translate(_ASCII_FOLD)
    return "".join(c for c in s if c.isascii() and c.isalnum())


def _fake_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


_EPOCH_START = _dt.datetime(2019, 1, 1)
_EPOCH_SPAN_DAYS = 6 * 365
_LATEST = _dt.datetime(2025, 6, 30)


def generate_sample(
    n_users: int, n_groups: int, seed: int, account: str | None = None
) -> tuple[list[UserSpec], list[GroupSpec], list[tuple[str, str]]]:
    """A deterministic, realistic-looking pool for a seed (no moto calls); groups' role ARNs
    are in `account` (default: the default account)."""
    rng = random.Random(f"baton-cognito-sample:{seed}")
    slug = {n: _ascii_slug(n) for n in FIRST_NAMES + LAST_NAMES}
    users: list[UserSpec] = []
    usernames: set[str] = set()
    next_suffix: dict[str, int] = {}
    n_external = 0 if n_users < 10 else max(2, n_users // 500)
    external_idx = set(rng.sample(range(n_users), n_external)) if n_external else set()
    for i in range(n_users):
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        fslug, lslug = slug[first], slug[last]
        domain = rng.choice(EMAIL_DOMAINS)
        created = _EPOCH_START + _dt.timedelta(
            seconds=rng.randrange(_EPOCH_SPAN_DAYS * 86400)
        )
        modified = min(created + _dt.timedelta(seconds=rng.randrange(400 * 86400)), _LATEST)
        attrs: dict[str, str] = {"sub": _fake_uuid(rng)}
        if i in external_idx:
            provider = rng.choice(["Google", "Google", "Facebook", "SignInWithApple"])
            ext_id = f"{rng.randrange(10**20, 10**21)}"
            username = f"{provider}_{ext_id}"
            status = "EXTERNAL_PROVIDER"
            attrs["identities"] = json.dumps(
                [{
                    "userId": ext_id,
                    "providerName": provider,
                    "providerType": provider,
                    "issuer": None,
                    "primary": "true",
                    "dateCreated": str(int(created.replace(tzinfo=_dt.timezone.utc).timestamp() * 1000)),
                }],
                separators=(",", ":"),
            )
            email = f"{fslug}.{lslug}{rng.randrange(10, 99)}@gmail.example.com"
        else:
            style = rng.random()
            if style < 0.6:
                base = f"{fslug}.{lslug}"
            elif style < 0.85:
                base = f"{fslug[:1]}{lslug}"
            else:
                base = None  # pools that sign in by email use opaque usernames
            if base is None:
                username = _fake_uuid(rng)
            else:
                username = base
                k = next_suffix.get(base, 2)
                while username in usernames:
                    username = f"{base}{k}"
                    k += 1
                next_suffix[base] = k
            email_local = username if base is not None else f"{fslug}.{lslug}{rng.randrange(100, 999)}"
            email = f"{email_local}@{domain}"
            r = rng.random()
            if r < 0.05:
                status = "UNCONFIRMED"
            elif r < 0.065:
                status = "RESET_REQUIRED"
            elif r < 0.08:
                status = "FORCE_CHANGE_PASSWORD"
            elif r < 0.082:
                status = "COMPROMISED"
            else:
                status = "CONFIRMED"
        usernames.add(username)
        attrs["email"] = email
        attrs["email_verified"] = "false" if status == "UNCONFIRMED" else "true"
        attrs["given_name"] = first
        attrs["family_name"] = last
        attrs["name"] = f"{first} {last}"
        if rng.random() < 0.4:
            attrs["phone_number"] = f"+1555{rng.randrange(10**7):07d}"
            attrs["phone_number_verified"] = "true" if rng.random() < 0.7 else "false"
        if rng.random() < 0.2:
            attrs["preferred_username"] = rng.choice([fslug, f"{fslug}{lslug[:1]}", f"{fslug}_{rng.randrange(100)}"])
        if rng.random() < 0.7:
            attrs["custom:department"] = rng.choice(DEPARTMENTS)
        if rng.random() < 0.6:
            attrs["custom:employee_id"] = f"E{rng.randrange(100000, 999999)}"
        enabled = rng.random() >= 0.05
        users.append(UserSpec.trusted(
            username,
            [{"Name": k, "Value": v} for k, v in attrs.items()],
            attrs["sub"],
            enabled,
            status,
            created,
            modified,
        ))

    groups: list[dict] = []
    names: list[str] = []
    if n_groups >= 1:
        names.append(ALL_STAFF)
    middle = max(0, n_groups - 2)
    for j in range(middle):
        if j < len(NAMED_GROUPS):
            names.append(NAMED_GROUPS[j][0])
        else:
            w = PROJECT_WORDS[(j - len(NAMED_GROUPS)) % len(PROJECT_WORDS)]
            names.append(f"project-{w}-{j - len(NAMED_GROUPS) + 1}")
    if n_groups >= 2:
        names.append(EMPTY_GROUP)
    descr = dict(NAMED_GROUPS)
    for j, name in enumerate(names):
        if name == ALL_STAFF:
            d, prec = "Everyone in the company", 100
        elif name == EMPTY_GROUP:
            d, prec = "Retired project; no members", None
        else:
            d = descr.get(name) or f"Project {name.split('-')[1].title()} team"
            prec = rng.choice([None, rng.randrange(0, 50)])
        role = None
        if rng.random() < 0.3:
            role = f"arn:aws:iam::{account or account_id()}:role/cognito-{_ascii_slug(name) or 'group'}"
        created = _EPOCH_START + _dt.timedelta(seconds=rng.randrange(_EPOCH_SPAN_DAYS * 86400))
        groups.append({
            "name": name,
            "description": d,
            "precedence": prec,
            "role_arn": role,
            "create_date": created.replace(tzinfo=_dt.timezone.utc).timestamp(),
        })

    memberships: list[tuple[str, str]] = []
    all_names = [u.username for u in users]
    for name in names:
        if name == EMPTY_GROUP or not all_names:
            continue
        if name == ALL_STAFF:
            k = min(n_users, max(min(n_users, 1), min(n_users // 4, 3000)))
        else:
            k = min(n_users, rng.randrange(0, 61))
        for uname in rng.sample(all_names, k):
            memberships.append((name, uname))

    return (
        users,
        [GroupSpec(g, i) for i, g in enumerate(groups)],
        memberships,
    )


def create_sample_pool(
    region: str, n_users: int, n_groups: int, seed: int, pool_id: str | None = None,
    account: str | None = None,
) -> tuple[CognitoIdpUserPool, dict]:
    users, groups, memberships = generate_sample(n_users, n_groups, seed, account)
    with STATE_LOCK.write():
        pool = create_pool(
            region,
            f"sample-s{seed}-u{n_users}-g{n_groups}",
            custom_attributes=("custom:department", "custom:employee_id"),
            pool_id=pool_id,
            id_rng=random.Random(f"baton-cognito-pool-id:{seed}:{n_users}:{n_groups}"),
            account=account,
        )
        try:
            counts = seed_into_pool(pool, users, groups, memberships)
        except BaseException:
            del pool.backend.user_pools[pool.id]
            raise
    return pool, counts


# --------------------------------------------------------------------------- faults & call stats


class FaultRule:
    __slots__ = ("operation", "kind", "count", "delay_ms", "skip", "pool_id", "message",
                 "status", "error_type", "continuation")

    def __init__(self, raw: Any, idx: int):
        what = f"rules[{idx}]"
        _check_keys(
            raw,
            ("operation", "kind", "count", "delay_ms", "skip", "pool_id", "message",
             "status", "error_type", "continuation"),
            what,
        )
        op = raw.get("operation", "*")
        if not isinstance(op, str) or not op:
            raise bad(f"{what}: 'operation' must be an operation name or '*'")
        self.operation = op
        kind = raw.get("kind")
        if kind not in FAULT_KINDS:
            raise bad(f"{what}: 'kind' must be one of {list(FAULT_KINDS)}")
        self.kind = kind
        count = raw.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or (count < 1 and count != -1):
            raise bad(f"{what}: 'count' must be a positive integer (or -1 for unlimited)")
        self.count = count
        skip = raw.get("skip", 0)
        if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
            raise bad(f"{what}: 'skip' must be a non-negative integer")
        self.skip = skip
        delay = raw.get("delay_ms")
        if kind == "delay":
            if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
                raise bad(f"{what}: kind 'delay' needs a non-negative 'delay_ms'")
        elif delay is not None:
            raise bad(f"{what}: 'delay_ms' only applies to kind 'delay'")
        self.delay_ms = delay
        self.pool_id = _opt_str(raw, "pool_id", what)
        self.message = _opt_str(raw, "message", what)
        continuation = raw.get("continuation", False)
        if not isinstance(continuation, bool):
            raise bad(f"{what}: 'continuation' must be true or false")
        # Only requests carrying a page token (PaginationToken / NextToken) match: a stale
        # token mid-listing, never a first page.
        self.continuation = continuation
        status = raw.get("status")
        error_type = raw.get("error_type")
        if kind == "error":
            if not isinstance(error_type, str) or not error_type:
                raise bad(f"{what}: kind 'error' needs 'error_type' (e.g. 'ResourceNotFoundException')")
            if status is None:
                status = 400
            if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
                raise bad(f"{what}: 'status' must be an HTTP error status (400..599)")
        elif status is not None or error_type is not None:
            raise bad(f"{what}: 'status'/'error_type' only apply to kind 'error'")
        self.status = status
        self.error_type = error_type

    def to_json(self) -> dict:
        out: dict[str, Any] = {"operation": self.operation, "kind": self.kind, "count": self.count}
        for k in ("delay_ms", "pool_id", "message", "status", "error_type"):
            v = getattr(self, k)
            if v is not None:
                out[k] = v
        if self.skip:
            out["skip"] = self.skip
        if self.continuation:
            out["continuation"] = True
        return out


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.faults: list[FaultRule] = []
        self.reset_calls()

    def reset_calls(self) -> None:
        """Zero the counters and the request log (requests in flight stay counted)."""
        with self.lock:
            self.calls: dict[str, int] = {}
            self.calls_by_pool: dict[str, dict[str, int]] = {}
            self.throttled: dict[str, int] = {}
            self.log: deque = deque(maxlen=REQUEST_LOG_MAX)
            self.in_flight = getattr(self, "in_flight", 0)
            self.max_in_flight = self.in_flight
            self.total = 0

    def take_fault(
        self, op: str, pool_id: str | None, continuation: bool = False
    ) -> FaultRule | None:
        """Count the call, then consume one count from the first matching rule.
        `continuation`: the request carries a page token (a later page of a listing)."""
        with self.lock:
            self.calls[op] = self.calls.get(op, 0) + 1
            if pool_id:
                per = self.calls_by_pool.setdefault(pool_id, {})
                per[op] = per.get(op, 0) + 1
            self.total += 1
            for i, rule in enumerate(self.faults):
                if rule.operation not in ("*", op):
                    continue
                if rule.pool_id is not None and rule.pool_id != pool_id:
                    continue
                if rule.continuation and not continuation:
                    continue
                if rule.skip > 0:
                    rule.skip -= 1
                    continue
                if rule.count != -1:
                    rule.count -= 1
                    if rule.count == 0:
                        del self.faults[i]
                return rule
            return None

    def count_throttled(self, op: str) -> None:
        """A call refused by the quotas (it was already counted in `calls`)."""
        with self.lock:
            self.throttled[op] = self.throttled.get(op, 0) + 1

    def enter(self) -> None:
        with self.lock:
            self.in_flight += 1
            if self.in_flight > self.max_in_flight:
                self.max_in_flight = self.in_flight

    def leave(self, entry: dict) -> None:
        with self.lock:
            self.in_flight -= 1
            self.log.append(entry)


STATS = Stats()


# --------------------------------------------------------------------------- quotas

# Cognito's request-rate quota categories with AWS's default requests per second. The
# semantics copy tools/fast-emulator/src/quota.rs, so a benchmark gets the same throttling
# from either emulator.
QUOTA_DEFAULT_RPS: dict[str, float] = {
    "UserList": 30.0,
    "UserRead": 120.0,
    "UserResourceRead": 50.0,
    "UserPoolResourceRead": 20.0,
    "UserPoolRead": 15.0,
    "UserUpdate": 25.0,
    "UserCreation": 50.0,
    # CloudWatch Logs' FilterLogEvents: 5 transactions per second per account and Region.
    "LogFilter": 5.0,
}

# AdminSetUserPassword counts with the updates, as the connector's own pacing does.
QUOTA_CATEGORY_OF: dict[str, str] = {
    "ListUsers": "UserList",
    "ListUsersInGroup": "UserList",
    "AdminGetUser": "UserRead",
    "AdminListGroupsForUser": "UserResourceRead",
    "AdminListUserAuthEvents": "UserResourceRead",
    "ListGroups": "UserPoolResourceRead",
    "GetGroup": "UserPoolResourceRead",
    "DescribeUserPool": "UserPoolRead",
    **{
        op: "UserUpdate"
        for op in (
            "AdminAddUserToGroup", "AdminRemoveUserFromGroup", "AdminEnableUser",
            "AdminDisableUser", "AdminDeleteUser", "AdminUpdateUserAttributes",
            "AdminSetUserPassword", "AdminUserGlobalSignOut",
        )
    },
    "AdminCreateUser": "UserCreation",
    "FilterLogEvents": "LogFilter",
}

# How a refusal is answered: Cognito's TooManyRequestsException with the category named,
# unless the category's service throttles otherwise (CloudWatch Logs: ThrottlingException,
# "Rate exceeded").
QUOTA_REFUSALS: dict[str, tuple[str, str]] = {"LogFilter": ("ThrottlingException", "Rate exceeded")}

# ListGroups and GetGroup are also capped per pool and operation (scaled like the rest).
PER_POOL_RPS = 5.0
PER_POOL_OPS = ("ListGroups", "GetGroup")


class _Bucket:
    """A token bucket whose capacity (burst) is one second of its rate; it starts full."""

    __slots__ = ("tokens", "last")

    def __init__(self, rate: float, now: float):
        self.tokens = max(rate, 1.0)
        self.last = now

    def refill(self, rate: float, now: float) -> None:
        elapsed = max(0.0, now - self.last)
        self.tokens = min(self.tokens + elapsed * rate, max(rate, 1.0))
        self.last = now


class Quotas:
    """Cognito's request-rate quotas: a bucket per (account, region, category), as AWS
    counts them per account and Region, plus the per-pool cap.

    A call over quota is refused at once (the caller answers TooManyRequestsException);
    nothing waits, as on AWS.
    """

    def __init__(self, scale: float = 1.0, disabled: bool = True):
        self.lock = threading.Lock()
        self.scale = scale
        self.disabled = disabled
        self._by_region: dict[tuple[str, str, str], _Bucket] = {}
        self._by_pool: dict[tuple[str, str, str], _Bucket] = {}

    def configure(self, scale: float | None = None, disabled: bool | None = None) -> None:
        """Change the rates and/or switch enforcement; every bucket starts full again."""
        with self.lock:
            if scale is not None:
                self.scale = scale
            if disabled is not None:
                self.disabled = disabled
            self._by_region.clear()
            self._by_pool.clear()

    def describe(self) -> dict:
        with self.lock:
            return {
                "scale": self.scale,
                "disabled": self.disabled,
                "rates": {c: rps * self.scale for c, rps in QUOTA_DEFAULT_RPS.items()},
                "per_pool_list_groups_get_group": PER_POOL_RPS * self.scale,
            }

    def admit(self, op: str, account: str, region: str,
              pool_id: str | None) -> tuple[str, str] | None:
        """None if the call may go on, else the (error type, message) to refuse it with.
        `account`: the account the call acts in (that of its access key)."""
        category = QUOTA_CATEGORY_OF.get(op)
        if category is None:
            return None
        with self.lock:
            if self.disabled:
                return None
            now = time.monotonic()
            # The per-pool cap is checked first, and spent only if the category admits too.
            pool_bucket = None
            if op in PER_POOL_OPS and pool_id:
                rate = PER_POOL_RPS * self.scale
                pool_bucket = self._by_pool.setdefault((account, pool_id, op), _Bucket(rate, now))
                pool_bucket.refill(rate, now)
                if pool_bucket.tokens < 1.0:
                    return ("TooManyRequestsException",
                            f"Rate exceeded ({op}: 5 requests per second per user pool)")
            rate = QUOTA_DEFAULT_RPS[category] * self.scale
            bucket = self._by_region.setdefault((account, region, category), _Bucket(rate, now))
            bucket.refill(rate, now)
            if bucket.tokens < 1.0:
                return QUOTA_REFUSALS.get(
                    category, ("TooManyRequestsException", f"Rate exceeded ({category} quota)"))
            bucket.tokens -= 1.0
            if pool_bucket is not None:
                pool_bucket.tokens -= 1.0
            return None


# Off unless --quota-scale is given, so tests that hammer the emulator never get throttled.
QUOTAS = Quotas()


# --------------------------------------------------------------------------- invitations

# AdminCreateUser's MessageAction and DesiredDeliveryMediums, which moto ignores. As the
# API reference has it: the mediums are SMS and/or EMAIL (default SMS); the invitation is
# sent unless MessageAction is SUPPRESS (RESEND sends it again to an existing user); and
# the user must have `email` if EMAIL is desired and `phone_number` if SMS is. Otherwise
# the call is refused with InvalidParameterException and nothing changes. The invitations
# "sent" are kept per pool for GET /_emulator/pools/<id>/invitations.
DELIVERY_MEDIUMS = ("SMS", "EMAIL")
MEDIUM_ATTRIBUTE = {"EMAIL": "email", "SMS": "phone_number"}
# The EMAIL refusal is the message AWS is reported to give; the SMS one is by analogy.
MEDIUM_MISSING = {
    "EMAIL": "No email provided but desired delivery medium was Email",
    "SMS": "No phone_number provided but desired delivery medium was SMS",
}


def _java_repr(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_java_repr(v) for v in value) + "]"
    return str(value)


def check_invitation(params: dict, account: str, region: str) -> tuple[str | None, dict | None]:
    """Checks an AdminCreateUser request before moto sees it. Caller holds the write lock.
    Returns (refusal message, None), or (None, the invitation to record once moto has
    answered 200, or None when no message is sent or moto is to answer the error)."""
    action = params.get("MessageAction")
    raw = params.get("DesiredDeliveryMediums")
    errors = []
    if action is not None and action not in ("RESEND", "SUPPRESS"):
        errors.append(f"Value '{_java_repr(action)}' at 'messageAction' failed to satisfy "
                      "constraint: Member must satisfy enum value set: [SUPPRESS, RESEND]")
    if raw is not None and (not isinstance(raw, list) or any(m not in DELIVERY_MEDIUMS for m in raw)):
        errors.append(f"Value '{_java_repr(raw)}' at 'desiredDeliveryMediums' failed to satisfy "
                      "constraint: Member must satisfy constraint: "
                      "[Member must satisfy enum value set: [SMS, EMAIL]]")
    if errors:
        n = len(errors)
        return f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(errors), None
    if action == "SUPPRESS":
        return None, None
    mediums = list(dict.fromkeys(raw or ["SMS"]))
    username = params.get("Username")
    try:
        pool = cognitoidp_backends[account][region].user_pools.get(params.get("UserPoolId"))
    except (KeyError, TypeError):
        pool = None
    if pool is None or not isinstance(username, str):
        return None, None  # moto answers the error
    existing = pool._get_user(username)
    if (existing is not None) != (action == "RESEND"):
        return None, None  # UsernameExistsException / UserNotFoundException from moto
    if existing is not None:
        attrs = {a["Name"]: a["Value"] for a in existing.attributes}
    else:
        attrs = {
            a["Name"]: a["Value"]
            for a in params.get("UserAttributes") or []
            if isinstance(a, dict) and isinstance(a.get("Name"), str)
        }
        # A pool signing in by email/phone stores the username in that attribute.
        for kind in pool.extended_config.get("UsernameAttributes") or []:
            if validate_username_format(username, _format=kind):
                attrs[kind] = username
                break
    destinations = {}
    for medium in mediums:
        value = attrs.get(MEDIUM_ATTRIBUTE[medium])
        if not isinstance(value, str) or not value:
            return MEDIUM_MISSING[medium], None
        destinations[medium] = value
    return None, {"pool": pool, "mediums": mediums, "destinations": destinations,
                  "resend": action == "RESEND"}


def pool_invitations(pool: CognitoIdpUserPool) -> list[dict]:
    """The invitations sent in a pool (kept on moto's pool object, so they go with it)."""
    return pool.__dict__.setdefault("emulator_invitations", [])


def record_invitation(invite: dict, answer: list[bytes]) -> None:
    try:
        username = json.loads(b"".join(answer))["User"]["Username"]
    except (ValueError, KeyError, TypeError):
        return
    pool_invitations(invite["pool"]).append({
        "username": username,
        "mediums": invite["mediums"],
        "destinations": invite["destinations"],
        "resend": invite["resend"],
    })


# --------------------------------------------------------------------------- WSGI app


def _json_response(start_response, status: int, obj: Any, headers: list | None = None):
    body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    hdrs = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    if headers:
        hdrs.extend(headers)
    start_response(f"{status} {_REASONS.get(status, 'Status')}", hdrs)
    return [body]


_REASONS = {
    200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    409: "Conflict", 500: "Internal Server Error", 503: "Service Unavailable",
}


def _aws_error(start_response, status: int, error_type: str, message: str):
    body = json.dumps({"__type": error_type, "message": message}).encode("utf-8")
    start_response(
        f"{status} {_REASONS.get(status, 'Error')}",
        [
            ("Content-Type", JSON_11),
            ("Content-Length", str(len(body))),
            ("x-amzn-RequestId", str(uuid.uuid4())),
            ("x-amzn-ErrorType", error_type),
        ],
    )
    return [body]


def _sts_error(start_response, status: int, code: str, message: str):
    """An STS (query protocol) error: STS's XML error shape."""
    request_id = accounts.new_request_id()
    body = accounts.error_body(code, message, status, request_id)
    start_response(
        f"{status} {_REASONS.get(status, 'Error')}",
        [
            ("Content-Type", "text/xml"),
            ("Content-Length", str(len(body))),
            ("x-amzn-RequestId", request_id),
        ],
    )
    return [body]


def _aws_answer(start_response, obj: Any):
    """A 200 awsJson1_1 answer to an operation the emulator serves itself."""
    body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    start_response(
        "200 OK",
        [
            ("Content-Type", JSON_11),
            ("Content-Length", str(len(body))),
            ("x-amzn-RequestId", str(uuid.uuid4())),
        ],
    )
    return [body]


def _read_body(environ) -> bytes:
    inp = environ.get("wsgi.input")
    if inp is None:
        return b""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        data = inp.read(length)
    elif environ.get("wsgi.input_terminated"):
        data = inp.read()
    else:
        data = b""
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))
    return data


def _region_from_auth(environ) -> str | None:
    auth = environ.get("HTTP_AUTHORIZATION") or ""
    m = re.search(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/", auth)
    return m.group(1) if m else None


def _raw_path_segments(environ) -> list[str]:
    """Path segments, percent-decoded one by one (so '%2F' inside a name survives)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw is None:
        path = environ.get("PATH_INFO", "")
        return [s for s in path.split("/") if s != ""]
    try:
        # werkzeug hands out the request line latin-1 decoded, then "encoding-danced".
        raw_bytes = raw.encode("latin-1").decode("utf-8").encode("latin-1")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raw_bytes = raw.encode("utf-8", "surrogateescape")
    raw_bytes = raw_bytes.split(b"?", 1)[0]
    if raw_bytes.startswith(b"http://") or raw_bytes.startswith(b"https://"):
        raw_bytes = b"/" + raw_bytes.split(b"/", 3)[-1]
    out = []
    for seg in raw_bytes.split(b"/"):
        if seg == b"":
            continue
        try:
            out.append(unquote_to_bytes(seg).decode("utf-8"))
        except UnicodeDecodeError:
            raise bad("path is not valid UTF-8") from None
    return out


class EmulatorApp:
    def __init__(self, latency_ms: float = 0.0) -> None:
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.latency_s = latency_ms / 1000.0

    def pause(self) -> None:
        """The configured per-call latency (--latency-ms): every AWS answer waits for it,
        errors and throttled calls included, as a network round trip would."""
        if self.latency_s > 0:
            time.sleep(self.latency_s)

    def warm_up(self) -> None:
        """Instantiate moto's cognito-idp Flask app now, not on the first request."""
        environ = {
            "PATH_INFO": "/",
            "HTTP_X_AMZ_TARGET": "AWSCognitoIdentityProviderService.ListUserPools",
            "HTTP_AUTHORIZATION": (
                "AWS4-HMAC-SHA256 Credential=x/20240101/us-east-1/cognito-idp/aws4_request, "
                "SignedHeaders=host, Signature=0"
            ),
        }
        self.moto.get_application(environ)
        _backend("us-east-1")

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "") or "/"
        if path.startswith(CONTROL_PREFIX) or path == CONTROL_PREFIX.rstrip("/"):
            return self.control(environ, start_response)
        if not path.startswith("/moto-api"):
            target = environ.get("HTTP_X_AMZ_TARGET")
            if target:
                service = "logs" if target.startswith(LOGS_TARGET_PREFIX) else "cognito-idp"
                return self.aws(environ, start_response, service, target)
            if accounts.signing_service(environ) == accounts.STS_SERVICE:
                return self.aws(environ, start_response, accounts.STS_SERVICE, None)
        # Anything else (moto-api, JWKS, unsigned STS calls, ...) goes to moto unchanged
        # but for the account (that of the signing key), exclusively.
        accounts.tell_moto(environ, accounts.request_account(environ))
        with STATE_LOCK.write():
            return list(self.moto(environ, start_response))

    # ---------------------------------------------------------------- AWS calls

    def aws(self, environ, start_response, service: str, target: str | None):
        """An AWS call: Cognito or CloudWatch Logs (awsJson1_1, `target` = X-Amz-Target), or
        STS (query protocol, target None: the operation is the form's Action)."""
        body = _read_body(environ)
        sts = service == accounts.STS_SERVICE
        logs = service == "logs"
        params: dict = {}
        if sts:
            params = accounts.form_params(body)
            op = params.get("Action") or "UnknownOperation"
        else:
            op = target.rsplit(".", 1)[-1]
            if body:
                try:
                    parsed = json.loads(body)
                    if isinstance(parsed, dict):
                        params = parsed
                except ValueError:
                    pass
        pool_id = params.get("UserPoolId") if isinstance(params.get("UserPoolId"), str) else None
        # The account the call acts in: that of its access key (a key AssumeRole issued:
        # the role's account), else the default one. moto is told the same.
        access_key = accounts.access_key_of(environ)
        account = accounts.account_of_access_key(access_key)
        accounts.tell_moto(environ, account)
        entry: dict[str, Any] = {"t": time.time(), "operation": op, "account": account}
        region = _region_from_auth(environ)
        if region:
            entry["region"] = region
        if pool_id:
            entry["pool_id"] = pool_id
        logged = (STS_LOGGED_MEMBERS if sts else LOGS_LOGGED_MEMBERS if logs
                  else COGNITO_LOGGED_MEMBERS)
        for src, dst in logged:
            if src in params:
                entry[dst] = params[src]
        continuation = bool(params.get("PaginationToken") or params.get("NextToken")
                            or params.get("nextToken"))
        if continuation:
            entry["token"] = True

        status_box: list[str] = []

        def sr(status, headers, exc_info=None):
            status_box.append(status)
            return start_response(status, headers, exc_info)

        STATS.enter()
        try:
            # Order as in the fast emulator: fault rules, then quotas, then latency.
            rule = STATS.take_fault(op, pool_id, continuation)
            if rule is not None:
                entry["fault"] = rule.kind
                if rule.kind == "delay":
                    time.sleep(rule.delay_ms / 1000.0)
                else:
                    self.pause()
                    return self._fault(environ, sr, rule, op, pool_id, region, params, service,
                                       account, access_key)
            over = QUOTAS.admit(op, account, region or "us-east-1", pool_id)
            if over is not None:
                STATS.count_throttled(op)
                entry["throttled"] = True
                self.pause()
                return _aws_error(sr, 400, *over)
            # Sleep before taking the state lock, so latency never serialises callers.
            self.pause()
            readonly = op.startswith(READ_OP_PREFIXES) or op in READ_OPS
            lock = STATE_LOCK.read() if readonly else STATE_LOCK.write()
            backends = cognitoidp_backends[account]
            with lock:
                try:
                    if sts:
                        if op == "AssumeRole":
                            accounts.check_assume_role(params, access_key, account)
                    elif logs:
                        if op == "FilterLogEvents":
                            request, answer = cloudwatch_logs.prepare_filter_log_events(
                                params, account, region or "us-east-1")
                            if answer is not None:
                                return _aws_answer(sr, answer)
                            data = json.dumps(request).encode("utf-8")
                            environ["wsgi.input"] = io.BytesIO(data)
                            environ["CONTENT_LENGTH"] = str(len(data))
                    elif op in auth_events.POOL_CONFIG_OPS:
                        auth_events.check_pool_config(params)
                    elif op == "AdminListUserAuthEvents":  # moto lacks it
                        return _aws_answer(sr, auth_events.list_user_auth_events(
                            params, backends, region or "us-east-1"))
                    elif op in sign_in_logs.LOG_DELIVERY_OPS:  # moto lacks them
                        return _aws_answer(sr, sign_in_logs.handle(
                            op, params, backends, region or "us-east-1", account))
                except auth_events.AwsError as e:
                    return _aws_error(sr, 400, e.error_type, e.message)
                except accounts.StsError as e:
                    return _sts_error(sr, e.status, e.code, e.message)
                invite = None
                if op == "AdminCreateUser" and service == "cognito-idp":
                    refusal, invite = check_invitation(params, account, region or "us-east-1")
                    if refusal is not None:
                        return _aws_error(sr, 400, "InvalidParameterException", refusal)
                # Materialise the response inside the lock.
                answer = list(self.moto(environ, sr))
                if invite is not None and status_box and status_box[-1].startswith("200"):
                    record_invitation(invite, answer)
                if op in auth_events.SIGN_IN_OPS and status_box and service == "cognito-idp":
                    auth_events.record_sign_in(
                        op, params, backends, region or "us-east-1",
                        int(status_box[-1].split()[0]), answer, environ.get("REMOTE_ADDR"))
                return answer
        finally:
            if status_box:
                try:
                    entry["status"] = int(status_box[-1].split()[0])
                except ValueError:
                    pass
            entry["ms"] = round((time.time() - entry["t"]) * 1000, 2)
            STATS.leave(entry)

    def _fault(self, environ, sr, rule: FaultRule, op: str, pool_id: str | None,
               region: str | None, params: dict, service: str, account: str,
               access_key: str | None):
        kind = rule.kind
        logs = service == "logs"
        if service == accounts.STS_SERVICE:
            return self._sts_fault(sr, rule, op, params, account, access_key)
        if kind == "throttle":
            if logs:  # CloudWatch Logs' throttling error
                return _aws_error(sr, 400, "ThrottlingException", rule.message or "Rate exceeded")
            return _aws_error(sr, 400, "TooManyRequestsException", rule.message or "Too many requests")
        if kind == "internal":
            return _aws_error(sr, 500, "InternalErrorException", rule.message or "Internal server error")
        if kind == "not_authorized":
            return _aws_error(sr, 400, "NotAuthorizedException",
                              rule.message or "The security token included in the request is invalid.")
        if kind == "access_denied":
            region = region or "us-east-1"
            group = params.get("logGroupName")
            if logs and isinstance(group, str):
                resource = f"arn:aws:logs:{region}:{account}:log-group:{group}:*"
            elif not logs and pool_id:
                resource = f"arn:aws:cognito-idp:{region}:{account}:userpool/{pool_id}"
            else:
                resource = "*"
            msg = rule.message or (
                f"User: {accounts.caller_arn(access_key, account)} is not authorized to perform: "
                f"{service}:{op} on resource: {resource} because no identity-based policy "
                f"allows the {service}:{op} action"
            )
            return _aws_error(sr, 400, "AccessDeniedException", msg)
        if kind == "error":
            return _aws_error(sr, rule.status, rule.error_type, rule.message or rule.error_type)
        return self._transport_fault(sr, rule)

    def _sts_fault(self, sr, rule: FaultRule, op: str, params: dict, account: str,
                   access_key: str | None):
        """A fault rule's answer to an STS call, in STS's XML error shape."""
        kind = rule.kind
        if kind == "throttle":
            return _sts_error(sr, 400, "Throttling", rule.message or "Rate exceeded")
        if kind == "internal":
            return _sts_error(sr, 500, "InternalFailure",
                              rule.message or "An internal error occurred.")
        if kind == "not_authorized":
            return _sts_error(sr, 403, "InvalidClientTokenId",
                              rule.message or "The security token included in the request is invalid.")
        if kind == "access_denied":
            resource = params.get("RoleArn") if op == "AssumeRole" else None
            return _sts_error(sr, 403, "AccessDenied", rule.message or (
                f"User: {accounts.caller_arn(access_key, account)} is not authorized to perform: "
                f"sts:{op} on resource: {resource or '*'}"))
        if kind == "error":
            return _sts_error(sr, rule.status, rule.error_type, rule.message or rule.error_type)
        return self._transport_fault(sr, rule)

    @staticmethod
    def _transport_fault(sr, rule: FaultRule):
        if rule.kind == "unavailable":
            body = (rule.message or "Service Unavailable").encode("utf-8")
            sr("503 Service Unavailable",
               [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        if rule.kind == "reset":
            raise DropConnection()
        raise AssertionError(rule.kind)

    # ---------------------------------------------------------------- control API

    def control(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET").upper()
        try:
            segs = _raw_path_segments(environ)[1:]  # drop "_emulator"
            body = _read_body(environ)
            data: Any = None
            if body.strip():
                try:
                    data = json.loads(body)
                except ValueError as e:
                    raise bad(f"body is not valid JSON: {e}") from None
            query = parse_qs(environ.get("QUERY_STRING", ""))
            status, result = self.route(method, segs, data, query)
            return _json_response(start_response, status, result)
        except ApiError as e:
            return _json_response(start_response, e.status, {"error": e.message})
        except Exception as e:  # moto exceptions (GroupExists, ...) and bugs
            err_type = getattr(e, "error_type", None)
            if err_type:
                msg = f"{err_type}: {getattr(e, 'message', '')}"
                return _json_response(start_response, 400, {"error": msg})
            import traceback

            traceback.print_exc(file=sys.stderr)
            return _json_response(start_response, 500, {"error": f"{type(e).__name__}: {e}"})

    def route(self, method: str, segs: list[str], data: Any, query: dict) -> tuple[int, Any]:
        def body_obj() -> dict:
            if data is None:
                return {}
            if not isinstance(data, dict):
                raise bad("body must be a JSON object")
            return data

        def allow(*methods: str) -> None:
            if method not in methods:
                raise ApiError(405, f"method {method} not allowed here (use {', '.join(methods)})")

        if not segs:
            raise not_found("see /_emulator/health, /pools, /sample, /faults, /calls, /reset, /quota")
        head = segs[0]
        if head == "health" and len(segs) == 1:
            allow("GET")
            return 200, {"ok": True}
        if head == "reset" and len(segs) == 1:
            allow("POST")
            return 200, self.reset()
        if head == "calls" and len(segs) == 1:
            allow("GET", "DELETE")
            if method == "DELETE":
                STATS.reset_calls()
                return 200, {}
            pool = (query.get("pool_id") or [None])[0]
            with STATS.lock:
                if pool:
                    return 200, dict(STATS.calls_by_pool.get(pool, {}))
                return 200, dict(STATS.calls)
        if head == "stats" and len(segs) == 1:
            allow("GET")
            with STATS.lock:
                return 200, {
                    "calls": dict(STATS.calls),
                    "total": STATS.total,
                    "in_flight": STATS.in_flight,
                    "max_in_flight": STATS.max_in_flight,
                    "faults_remaining": len(STATS.faults),
                    "throttled": sum(STATS.throttled.values()),
                    "throttled_by_operation": dict(sorted(STATS.throttled.items())),
                    "quota": QUOTAS.describe(),
                }
        if head == "quota" and len(segs) == 1:
            allow("GET", "POST")
            if method == "POST":
                QUOTAS.configure(*_parse_quota_body(body_obj()))
            return 200, QUOTAS.describe()
        if head == "requests" and len(segs) == 1:
            allow("GET", "DELETE")
            with STATS.lock:
                if method == "DELETE":
                    STATS.log.clear()
                    return 200, {}
                entries = list(STATS.log)
            op = (query.get("operation") or [None])[0]
            if op:
                entries = [e for e in entries if e["operation"] == op]
            return 200, {"requests": entries}
        if head == "faults" and len(segs) == 1:
            allow("GET", "POST", "DELETE")
            if method == "GET":
                with STATS.lock:
                    return 200, {"rules": [r.to_json() for r in STATS.faults]}
            if method == "DELETE":
                # ?pool_id=<id> removes only the rules scoped to that pool (tests sharing one
                # emulator clear their own rules without touching the others').
                pool = (query.get("pool_id") or [None])[0]
                with STATS.lock:
                    if pool:
                        STATS.faults[:] = [r for r in STATS.faults if r.pool_id != pool]
                    else:
                        STATS.faults.clear()
                    return 200, {"rules": [r.to_json() for r in STATS.faults]}
            b = _check_keys(body_obj(), ("rules",), "body")
            raw_rules = _list_field(b, "rules")
            rules = [FaultRule(r, i) for i, r in enumerate(raw_rules)]
            with STATS.lock:
                STATS.faults.extend(rules)
                return 200, {"rules": [r.to_json() for r in STATS.faults]}
        if head == "sample" and len(segs) == 1:
            allow("POST")
            b = _check_keys(body_obj(), ("region", "users", "groups", "seed", "pool_id", "account"),
                            "body")
            region = _validate_region(b.get("region", "us-east-1"))
            account = _validate_account(b.get("account"))
            n_users = b.get("users", 3000)
            n_groups = b.get("groups", 40)
            seed = b.get("seed", 42)
            for k, v, hi in (("users", n_users, 1_000_000), ("groups", n_groups, 10_000)):
                if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= hi:
                    raise bad(f"'{k}' must be an integer in 0..{hi}")
            if isinstance(seed, bool) or not isinstance(seed, int):
                raise bad("'seed' must be an integer")
            pool_id = b.get("pool_id")
            if pool_id is not None and not isinstance(pool_id, str):
                raise bad("'pool_id' must be a string")
            pool, counts = create_sample_pool(region, n_users, n_groups, seed, pool_id, account)
            return 200, pool_answer(pool, counts)
        if head == "pools":
            return self.route_pools(method, segs[1:], body_obj, allow, query)
        raise not_found(f"no control endpoint /_emulator/{'/'.join(segs)}")

    def route_pools(self, method, rest: list[str], body_obj, allow, query: dict) -> tuple[int, Any]:
        if not rest:
            allow("GET", "POST")
            if method == "GET":
                only = (query.get("account") or [None])[0]
                with STATE_LOCK.read():
                    out = []
                    # Every account's pools (default account first, then as created).
                    for _, _, backend in list(cognitoidp_backends.iter_backends()):
                        for pool in list(backend.user_pools.values()):
                            if only and pool.account_id != only:
                                continue
                            out.append({**pool_answer(pool), "users": len(pool.users),
                                        "groups": len(pool.groups)})
                return 200, {"pools": out}
            b = _check_keys(
                body_obj(),
                ("region", "name", "users", "groups", "memberships", "pool_id", "config",
                 "account"),
                "body",
            )
            region = _validate_region(b.get("region", "us-east-1"))
            account = _validate_account(b.get("account"))
            name = b.get("name", "test-pool")
            if not isinstance(name, str) or not name or len(name) > 128:
                raise bad("'name' must be a non-empty string of at most 128 characters")
            config = b.get("config") or {}
            if not isinstance(config, dict):
                raise bad("'config' must be an object (extra CreateUserPool parameters)")
            try:
                auth_events.check_pool_config(config)
            except auth_events.AwsError as e:
                raise bad(f"config: {e.error_type}: {e.message}") from None
            pool_id = b.get("pool_id")
            if pool_id is not None and not isinstance(pool_id, str):
                raise bad("'pool_id' must be a string")
            users = [UserSpec(u, i) for i, u in enumerate(_list_field(b, "users"))]
            groups = [GroupSpec(g, i) for i, g in enumerate(_list_field(b, "groups"))]
            mems = [_parse_membership(m, i) for i, m in enumerate(_list_field(b, "memberships"))]
            with STATE_LOCK.write():
                pool = create_pool(region, name, pool_id=pool_id, config=config, account=account)
                try:
                    counts = seed_into_pool(pool, users, groups, mems)
                except BaseException:
                    del pool.backend.user_pools[pool.id]
                    raise
            return 200, pool_answer(pool, counts)

        pool_id = rest[0]
        sub = rest[1:]
        if not sub:
            allow("GET", "DELETE")
            if method == "GET":
                with STATE_LOCK.read():
                    return 200, pool_summary(_find_pool(pool_id))
            with STATE_LOCK.write():
                pool = _find_pool(pool_id)
                del pool.backend.user_pools[pool.id]
            return 200, {"deleted": pool_id}
        kind = sub[0]
        if kind == "invitations" and len(sub) == 1:
            allow("GET", "DELETE")
            with STATE_LOCK.write():
                invitations = pool_invitations(_find_pool(pool_id))
                if method == "DELETE":
                    invitations.clear()
                return 200, {"invitations": list(invitations)}
        if kind == "auth-events" and len(sub) == 1:
            allow("GET", "POST", "DELETE")
            username = (query.get("username") or [None])[0]
            if method == "GET":
                with STATE_LOCK.read():
                    return 200, auth_events.list_events(_find_pool(pool_id), username)
            with STATE_LOCK.write():
                pool = _find_pool(pool_id)
                if method == "POST":
                    return 200, auth_events.seed_events(pool, body_obj())
                return 200, auth_events.clear_events(pool, username)
        if kind not in ("users", "groups", "memberships"):
            raise not_found(f"no control endpoint for pools/<id>/{kind}")
        if len(sub) == 1:
            if kind == "memberships":
                allow("POST", "DELETE")
            else:
                allow("POST")
            b = _check_keys(body_obj(), (kind,), "body")
            items = _list_field(b, kind)
            if kind == "users":
                users, groups, mems = [UserSpec(u, i) for i, u in enumerate(items)], [], []
            elif kind == "groups":
                users, groups, mems = [], [GroupSpec(g, i) for i, g in enumerate(items)], []
            else:
                users, groups, mems = [], [], [_parse_membership(m, i) for i, m in enumerate(items)]
            with STATE_LOCK.write():
                pool = _find_pool(pool_id)
                if method == "DELETE":
                    return 200, {**pool_answer(pool), "removed": self._remove_memberships(pool, mems)}
                counts = seed_into_pool(pool, users, groups, mems)
            return 200, pool_answer(pool, counts)
        if len(sub) != 2 or kind == "memberships":
            raise not_found("expected /_emulator/pools/<id>/users/<username> or .../groups/<name>")
        name = sub[1]
        with STATE_LOCK.write():
            pool = _find_pool(pool_id)
            if kind == "groups":
                allow("DELETE")
                if name not in pool.groups:
                    raise not_found(f"no group {name!r} in {pool_id}")
                pool.backend.delete_group(pool.id, name)
                return 200, {"deleted": name}
            allow("DELETE", "PATCH")
            user = pool.users.get(name)
            if user is None:
                raise not_found(f"no user {name!r} in {pool_id}")
            if method == "DELETE":
                pool.backend.admin_delete_user(pool.id, name)
                return 200, {"deleted": name}
            return 200, self._patch_user(pool, user, body_obj())

    @staticmethod
    def _remove_memberships(pool: CognitoIdpUserPool, mems: list[tuple[str, str]]) -> int:
        for i, (g, u) in enumerate(mems):
            if g not in pool.groups:
                raise bad(f"memberships[{i}]: no group {g!r}")
            if u not in pool.users:
                raise bad(f"memberships[{i}]: no user {u!r}")
        removed = 0
        for g, u in mems:
            grp, usr = pool.groups[g], pool.users[u]
            if usr in grp.users:
                removed += 1
            grp.users.discard(usr)
            usr.groups.discard(grp)
        return removed

    @staticmethod
    def _patch_user(pool: CognitoIdpUserPool, user, b: dict) -> dict:
        _check_keys(b, ("enabled", "status", "attributes"), "body")
        if "enabled" in b and not isinstance(b["enabled"], bool):
            raise bad("'enabled' must be a boolean")
        if "status" in b and b["status"] not in _STATUS_VALUES:
            raise bad(f"'status' must be one of {list(USER_STATUSES)}")
        attrs = None
        if "attributes" in b:
            spec = UserSpec({"username": user.username, "attributes": b["attributes"]}, 0)
            if spec.sub is not None:
                raise bad("'sub' cannot be changed")
            attrs = spec.attributes
        if "enabled" in b:
            user.enabled = b["enabled"]
        if "status" in b:
            user.status = _STATUS_VALUES[b["status"]]
        if attrs:
            _declare_custom_attributes(pool, [a["Name"] for a in attrs])
            user.update_attributes(attrs)
        return {"username": user.username, "enabled": user.enabled,
                "status": getattr(user.status, "value", user.status)}

    def reset(self) -> dict:
        from moto.moto_api._internal.models import moto_api_backend

        with STATE_LOCK.write():
            moto_api_backend.reset()
        with STATS.lock:
            STATS.faults.clear()
        STATS.reset_calls()
        return {"reset": True}


# --------------------------------------------------------------------------- server


class EmulatorRequestHandler(MotoRequestHandler):
    """moto's handler, quiet, and able to drop a connection on request."""

    def handle(self) -> None:
        try:
            super().handle()
        except DropConnection:
            self.close_connection = True
            try:
                # Linger 0: close() sends RST, so the client sees a connection error.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def log_error(self, format: str, *args: Any) -> None:  # noqa: A002
        try:
            sys.stderr.write("cognito-emulator: " + (format % args) + "\n")
        except Exception:
            pass


def _watch_stdin() -> None:
    try:
        while True:
            chunk = os.read(0, 65536)
            if not chunk:
                break
    except OSError:
        pass
    os._exit(0)


def _exit_on_signal(signum, frame) -> None:  # noqa: ARG001
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="AWS Cognito user-pool emulator (moto + control API)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = any free port")
    ap.add_argument("--sample-users", type=int)
    ap.add_argument("--sample-groups", type=int)
    ap.add_argument("--sample-seed", type=int)
    ap.add_argument("--sample-region")
    ap.add_argument("--no-stdin-watch", action="store_true",
                    help="do not exit on stdin EOF (for running by hand in the background)")
    ap.add_argument("--latency-ms", type=float, default=0.0,
                    help="fixed delay added to every AWS call (not to control API calls)")
    ap.add_argument("--quota-scale", type=float,
                    help="enforce Cognito's request-rate quotas at F times AWS's defaults "
                         "(default: not enforced)")
    ap.add_argument("--no-quota", action="store_true",
                    help="do not enforce the quotas (the default; wins over --quota-scale)")
    args = ap.parse_args(argv)
    if args.quota_scale is not None and not (
        args.quota_scale > 0 and math.isfinite(args.quota_scale)
    ):
        ap.error("--quota-scale must be a positive number")
    if not (args.latency_ms >= 0 and math.isfinite(args.latency_ms)):
        ap.error("--latency-ms must be a non-negative number")
    QUOTAS.configure(
        scale=args.quota_scale,
        disabled=args.no_quota or args.quota_scale is None,
    )

    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    if not args.no_stdin_watch:
        threading.Thread(target=_watch_stdin, name="stdin-watch", daemon=True).start()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    app = EmulatorApp(latency_ms=args.latency_ms)
    app.warm_up()
    server = make_server(args.host, args.port, app, threaded=True,
                         request_handler=EmulatorRequestHandler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    shown_host = f"[{host}]" if ":" in host else host
    out = sys.stdout
    out.write(f"LISTENING http://{shown_host}:{port}\n")
    out.flush()

    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()

    sample_wanted = any(
        v is not None
        for v in (args.sample_users, args.sample_groups, args.sample_seed, args.sample_region)
    )
    if sample_wanted:
        try:
            region = _validate_region(args.sample_region or "us-east-1")
            pool, _ = create_sample_pool(
                region,
                3000 if args.sample_users is None else args.sample_users,
                40 if args.sample_groups is None else args.sample_groups,
                42 if args.sample_seed is None else args.sample_seed,
            )
        except ApiError as e:
            sys.stderr.write(f"cognito-emulator: bad sample arguments: {e.message}\n")
            sys.stderr.flush()
            os._exit(2)
        out.write(f"SAMPLE_POOL {pool.id} {pool.region}\n")
        out.flush()

    # From here on nothing may write to stdout: a caller that stopped reading it
    # must never block us on a full pipe.
    sys.stdout = sys.stderr

    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
