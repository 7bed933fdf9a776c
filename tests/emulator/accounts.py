"""AWS accounts and STS for the Cognito emulator (cognito_emulator.py).

Which account an AWS request acts in: the account of the access key that signed it (the
``Credential=`` of its SigV4 ``Authorization`` header). moto keeps the keys it issues in
its IAM backend of the account they belong to: STS AssumeRole creates one in the account
of the role's ARN. A key moto did not issue (the dummy keys tests sign with) acts in the
emulator's default account: ``MOTO_ACCOUNT_ID`` as the process started, else moto's
``123456789012``.

The emulator passes the account it chose to moto in moto's ``x-moto-account-id`` request
header, so moto's backends and the emulator's own code always agree. moto would let the
``MOTO_ACCOUNT_ID`` environment variable override that header (and every access key):
this module takes it out of the environment once read.

STS (query protocol: a form-encoded ``POST /`` whose SigV4 credential scope names the
service ``sts``) is moto's: AssumeRole, GetCallerIdentity, ... This module checks
AssumeRole's parameters first, as the STS API reference constrains them (moto checks only
the session name's length), and gives an assumed role a stable AssumedRoleId.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import uuid
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends
from moto.sts import models as _sts_models
from moto.sts.models import sts_backends

# Read once, then removed: moto's BaseResponse.get_current_account would otherwise put
# every request in this account whatever key signed it.
DEFAULT_ACCOUNT: str = os.environ.pop("MOTO_ACCOUNT_ID", None) or DEFAULT_ACCOUNT_ID

ACCOUNT_RE = re.compile(r"\d{12}")

# moto's own account header (BaseResponse.get_current_account), as a WSGI environ key.
MOTO_ACCOUNT_ENVIRON = "HTTP_X_MOTO_ACCOUNT_ID"

_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/([^/,\s]+)/")

STS_SERVICE = "sts"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"


# --------------------------------------------------------------------------- accounts


def default_account() -> str:
    return DEFAULT_ACCOUNT


def _credential(environ) -> tuple[str, str, str] | None:
    """(access key, region, service) of a SigV4-signed request, else None."""
    m = _CREDENTIAL_RE.search(environ.get("HTTP_AUTHORIZATION") or "")
    return (m.group(1), m.group(2), m.group(3)) if m else None


def access_key_of(environ) -> str | None:
    cred = _credential(environ)
    return cred[0] if cred else None


def signing_service(environ) -> str | None:
    cred = _credential(environ)
    return cred[2].lower() if cred else None


def account_of_access_key(access_key: str | None) -> str:
    """The account holding the key in moto's IAM (a key AssumeRole issued: the role's
    account), else the default account. Looks only at IAM backends that exist (moto's own
    get_account_id_from would create one per partition on the way)."""
    if access_key:
        for account, by_partition in list(iam_backends.items()):
            for backend in list(by_partition.values()):
                if access_key in backend.access_keys:
                    return account
    return DEFAULT_ACCOUNT


def request_account(environ) -> str:
    return account_of_access_key(access_key_of(environ))


def tell_moto(environ, account: str) -> None:
    """Make moto serve the request in `account` (whatever header the client sent)."""
    environ[MOTO_ACCOUNT_ENVIRON] = account


def check_account(value: Any) -> str:
    """A control-API "account": 12 digits, or the default when absent."""
    if value is None:
        return DEFAULT_ACCOUNT
    if not isinstance(value, str) or not ACCOUNT_RE.fullmatch(value):
        raise ValueError("'account' must be a 12-digit AWS account id (a string)")
    return value


# --------------------------------------------------------------------------- assumed roles


def _stable_role_id(role_arn: str) -> str:
    """An IAM-style role id ("AROA" + 17 of [A-Z2-7]) derived from the ARN, so every session
    of a role that is not in moto's IAM reports the same one, as AWS does for a real role."""
    digest = base64.b32encode(hashlib.sha256(role_arn.encode("utf-8")).digest()).decode()
    return "AROA" + digest[:17]


def _assumed_role_user_id(self) -> str:
    try:
        role_id = iam_backends[self.account_id][self.partition].get_role_by_arn(
            arn=self.role_arn).id
    except Exception:  # the role is not in moto's IAM (the usual case here)
        role_id = _stable_role_id(self.role_arn)
    return role_id + ":" + self.session_name


# moto draws a fresh random role id each time AssumedRoleId is asked for (AssumeRole's
# answer, then each GetCallerIdentity), unless the role exists in its IAM.
_sts_models.AssumedRole.user_id = property(_assumed_role_user_id)


def caller_arn(access_key: str | None, account: str) -> str:
    """The caller's ARN for an AccessDenied message: the assumed role's session for a key
    AssumeRole issued, else an IAM user of the account (the emulator's invention)."""
    if access_key:
        for backend in list(dict.get(sts_backends, account, {}).values()):
            role = backend.get_assumed_role_from_access_key(access_key)
            if role is not None:
                return role.arn
    return f"arn:aws:iam::{account}:user/baton-test"


# --------------------------------------------------------------------------- STS requests


class StsError(Exception):
    """An STS error, answered in STS's XML error shape."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def form_params(body: bytes) -> dict[str, str]:
    """A query-protocol body: each parameter's first value (blank values kept)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = body.decode("latin-1")
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


def error_body(code: str, message: str, status: int, request_id: str) -> bytes:
    kind = "Sender" if status < 500 else "Receiver"
    return (
        f'<ErrorResponse xmlns="{STS_NS}"><Error><Type>{kind}</Type>'
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode("utf-8")


def new_request_id() -> str:
    return str(uuid.uuid4())


# The API reference's constraints (AssumeRole). Patterns as its messages print them.
_TEXT_PATTERN = (r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD"
                 r"\u10000-\u10FFFF]+")
_TEXT_RE = re.compile("[\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]+")
_SESSION_PATTERN = r"[\w+=,.@-]*"
_SESSION_RE = re.compile(r"[\w+=,.@-]*", re.ASCII)
_EXTERNAL_ID_PATTERN = r"[\w+=,.@:\/-]*"
_EXTERNAL_ID_RE = re.compile(r"[\w+=,.@:/-]*", re.ASCII)

# (member, wire name, required, min length, max length, pattern as printed, compiled)
_ASSUME_ROLE_STRINGS = (
    ("RoleArn", "roleArn", True, 20, 2048, _TEXT_PATTERN, _TEXT_RE),
    ("RoleSessionName", "roleSessionName", True, 2, 64, _SESSION_PATTERN, _SESSION_RE),
    ("ExternalId", "externalId", False, 2, 1224, _EXTERNAL_ID_PATTERN, _EXTERNAL_ID_RE),
)
DURATION_RANGE = (900, 43200)

# An ARN at all: arn:partition:service:region:account:resource.
_ARN_RE = re.compile(r"arn:[^:]+:[^:]+:[^:]*:[^:]*:.+", re.DOTALL)
# An IAM role's: the account is the one the role's credentials act in.
ROLE_ARN_RE = re.compile(r"arn:aws(?:-[a-z]+)*:iam::(\d{12}):role/(?:[^/]+/)*[^/]+")


def _validation_error(errors: list[str]) -> StsError:
    n = len(errors)
    return StsError(400, "ValidationError",
                    f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(errors))


def check_assume_role(params: dict[str, str], access_key: str | None, account: str) -> None:
    """AssumeRole's parameters, before moto sees them (moto accepts any RoleArn): raises
    StsError. `account`: the caller's."""
    errors: list[str] = []
    for key, wire, required, lo, hi, shown, regex in _ASSUME_ROLE_STRINGS:
        value = params.get(key)
        if value is None:
            if required:
                errors.append(f"Value null at '{wire}' failed to satisfy constraint: "
                              "Member must not be null")
            continue
        head = f"Value '{value}' at '{wire}' failed to satisfy constraint: "
        if not regex.fullmatch(value):
            errors.append(head + f"Member must satisfy regular expression pattern: {shown}")
        if len(value) < lo:
            errors.append(head + f"Member must have length greater than or equal to {lo}")
        elif len(value) > hi:
            errors.append(head + f"Member must have length less than or equal to {hi}")
    duration = params.get("DurationSeconds")
    if duration is not None:
        head = f"Value '{duration}' at 'durationSeconds' failed to satisfy constraint: "
        try:
            seconds = int(duration)
        except ValueError:
            errors.append(head + "Member must be an integer")  # wording not AWS's
        else:
            if seconds < DURATION_RANGE[0]:
                errors.append(head + f"Member must have value greater than or equal to "
                                     f"{DURATION_RANGE[0]}")
            elif seconds > DURATION_RANGE[1]:
                errors.append(head + f"Member must have value less than or equal to "
                                     f"{DURATION_RANGE[1]}")
    if errors:
        raise _validation_error(errors)
    role_arn = params["RoleArn"]
    if not _ARN_RE.fullmatch(role_arn):
        raise StsError(400, "ValidationError", f"{role_arn} is invalid")
    if not ROLE_ARN_RE.fullmatch(role_arn):
        # An ARN, but not an IAM role's: nothing there can trust the caller.
        raise StsError(403, "AccessDenied",
                       f"User: {caller_arn(access_key, account)} is not authorized to perform: "
                       f"sts:AssumeRole on resource: {role_arn}")
