"""The control API's error type and request-validation helpers.

Shared by cognito_emulator.py and the modules it imports (auth_events.py), which cannot
import cognito_emulator.py back: it runs as ``__main__``.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Iterable

MAX_NAME_LEN = 128


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An error answered by the control API as {"error": message}."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def bad(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)


# --------------------------------------------------------------------------- validation helpers


_CTRL_RE = re.compile(r"[\x00-\x1f\x7f]")


def _req_str(obj: dict, key: str, what: str, max_len: int | None = MAX_NAME_LEN) -> str:
    if key not in obj:
        raise bad(f"{what}: missing '{key}'")
    val = obj[key]
    if not isinstance(val, str) or val == "":
        raise bad(f"{what}: '{key}' must be a non-empty string")
    if max_len is not None and len(val) > max_len:
        raise bad(f"{what}: '{key}' longer than {max_len} characters")
    if _CTRL_RE.search(val):
        raise bad(f"{what}: '{key}' contains control characters")
    return val


def _opt_str(obj: dict, key: str, what: str) -> str | None:
    val = obj.get(key)
    if val is None:
        return None
    if not isinstance(val, str):
        raise bad(f"{what}: '{key}' must be a string")
    return val


def _check_keys(obj: Any, allowed: Iterable[str], what: str) -> dict:
    if not isinstance(obj, dict):
        raise bad(f"{what}: must be a JSON object")
    unknown = set(obj) - set(allowed)
    if unknown:
        raise bad(f"{what}: unknown field(s) {sorted(unknown)}")
    return obj


def _parse_date(val: Any, what: str) -> _dt.datetime | None:
    """Epoch seconds (number) or ISO 8601 string -> naive UTC datetime (moto's style)."""
    if val is None:
        return None
    if isinstance(val, bool):
        raise bad(f"{what}: must be epoch seconds or an ISO 8601 string")
    if isinstance(val, (int, float)):
        try:
            return _dt.datetime.fromtimestamp(val, _dt.timezone.utc).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):  # out of datetime's range, or NaN
            raise bad(f"{what}: {val!r} is not a representable date") from None
    if isinstance(val, str):
        try:
            d = _dt.datetime.fromisoformat(val.replace("Z", "+00:00"))
        except ValueError as e:
            raise bad(f"{what}: {e}") from None
        if d.tzinfo is not None:
            d = d.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return d
    raise bad(f"{what}: must be epoch seconds or an ISO 8601 string")


def _list_field(body: dict, key: str) -> list:
    val = body.get(key)
    if val is None:
        return []
    if not isinstance(val, list):
        raise bad(f"'{key}' must be a list")
    return val
