"""CloudWatch Logs filter patterns and FilterLogEvents checks, over moto 5.2.5's logs backend.

moto's FilterLogEvents understands plain terms only and lets every event through for a
pattern it does not understand (its EventMessageFilter), ignores ``logGroupIdentifier``,
``logStreamNamePrefix`` and ``limit: 0`` (which it reads as 10,000), and without
``interleaved`` lists the events stream by stream. The emulator (cognito_emulator.py) calls
``prepare_filter_log_events`` before moto sees a FilterLogEvents request, and ``install``
replaces moto's EventMessageFilter, so that

* JSON patterns (``{ $.a.b = "x" && $.n > 3 }``) and term patterns (``ERROR``, ``"a phrase"``,
  ``?A ?B``, ``ERROR -DEBUG``) are evaluated, inside moto's paging (filtering happens before
  ``limit`` is applied, so pages and ``nextToken`` stay right);
* a pattern that does not parse, or uses syntax the emulator does not implement, is refused
  with InvalidParameterException instead of matching everything;
* events are always interleaved by timestamp, as AWS has done since 2019.

Also ``put_event``, the write path of the sign-in log export (sign_in_logs.py). Nothing here
locks: cognito_emulator.py holds STATE_LOCK.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Callable

from moto.logs import models as _logs_models
from moto.logs.models import LogGroup, logs_backends

from auth_events import AwsError, _validation_error, _wrong_type

# FilterLogEvents request constraints (CloudWatch Logs API reference).
LIMIT_MAX = 10000
FILTER_PATTERN_MAX = 1024
STREAM_NAMES_MAX = 100

_LOG_GROUP_ARN_RE = re.compile(r"arn:[^:]+:logs:([^:]+):(\d+):log-group:([^:]+)(:\*)?")


class PatternError(ValueError):
    """A filter pattern that does not parse, or that the emulator does not implement."""


# --------------------------------------------------------------------------- JSON patterns

_MISSING = object()
_NUMBER_RE = re.compile(r"-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_NAME_RE = re.compile(r"[A-Za-z0-9_@:-]+")
_OPS = ("!=", "<=", ">=", "=", "<", ">")


def _tokens(body: str) -> list[tuple[str, Any]]:
    """Tokens of a JSON pattern's inside: ("(",), (")",), ("&&",), ("||",), ("sel", path),
    ("op", op), ("str", text) for a quoted value, ("word", text) otherwise."""
    out: list[tuple[str, Any]] = []
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c.isspace():
            i += 1
        elif c in "()":
            out.append((c, None))
            i += 1
        elif body.startswith("&&", i) or body.startswith("||", i):
            out.append((body[i:i + 2], None))
            i += 2
        elif c == "$":
            path, i = _selector(body, i)
            out.append(("sel", path))
        elif c == '"':
            j, text = i + 1, []
            while j < n and body[j] != '"':
                if body[j] == "\\" and j + 1 < n:
                    j += 1
                text.append(body[j])
                j += 1
            if j >= n:
                raise PatternError(f"unterminated string at position {i}")
            out.append(("str", "".join(text)))
            i = j + 1
        else:
            op = next((o for o in _OPS if body.startswith(o, i)), None)
            if op is not None:
                out.append(("op", op))
                i += len(op)
                continue
            j = i
            while j < n and not body[j].isspace() and body[j] not in '()"=!<>' \
                    and not body.startswith("&&", j) and not body.startswith("||", j):
                j += 1
            if j == i:
                raise PatternError(f"unexpected {c!r} at position {i}")
            out.append(("word", body[i:j]))
            i = j
    return out


def _selector(body: str, i: int) -> tuple[tuple[Any, ...], int]:
    """`$.a.b[0].c` from body[i] (the `$`): the path as names (str) and indexes (int)."""
    path: list[Any] = []
    i += 1
    while i < len(body) and body[i] in ".[":
        if body[i] == ".":
            m = _NAME_RE.match(body, i + 1)
            if not m:
                if body.startswith("*", i + 1):
                    raise PatternError("wildcard selectors ($.*) are not supported by the emulator")
                raise PatternError(f"bad property name at position {i + 1}")
            path.append(m.group())
            i = m.end()
        else:
            m = re.compile(r"\[(\d+)\]").match(body, i)
            if not m:
                raise PatternError(f"bad array index at position {i} (only [<number>] is supported)")
            path.append(int(m.group(1)))
            i = m.end()
    if not path:
        raise PatternError(f"a selector needs a property, as in $.name (position {i - 1})")
    return tuple(path), i


def _resolve(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        if isinstance(step, str):
            if not isinstance(doc, dict) or step not in doc:
                return _MISSING
            doc = doc[step]
        else:
            if not isinstance(doc, list) or step >= len(doc):
                return _MISSING
            doc = doc[step]
    return doc


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _wildcard(text: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(part) for part in text.split("*")), re.DOTALL)


Test = Callable[[Any], bool]


def _comparison(path: tuple[Any, ...], op: str, kind: str, text: str) -> Test:
    number = None
    if kind == "word":
        if text.startswith("%"):
            raise PatternError("regular expressions (%...%) are not supported by the emulator")
        if _NUMBER_RE.fullmatch(text):
            number = float(text)
    if op in ("<", ">", "<=", ">="):
        if number is None:
            raise PatternError(f"{op} needs a number, not {text!r}")
    if number is not None:
        compare = {
            "=": lambda v: v == number, "!=": lambda v: v != number,
            "<": lambda v: v < number, ">": lambda v: v > number,
            "<=": lambda v: v <= number, ">=": lambda v: v >= number,
        }[op]

        def numeric(doc: Any) -> bool:
            v = _resolve(doc, path)
            return _is_number(v) and compare(v)

        return numeric
    regex = _wildcard(text)
    equal = op == "="

    def textual(doc: Any) -> bool:
        v = _resolve(doc, path)
        return isinstance(v, str) and bool(regex.fullmatch(v)) == equal

    return textual


class _JsonParser:
    """expr := and ('||' and)* ; and := primary ('&&' primary)* ;
    primary := '(' expr ')' | SELECTOR (OP value | IS NULL | IS TRUE | IS FALSE | NOT EXISTS)."""

    def __init__(self, tokens: list[tuple[str, Any]]):
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None:
            raise PatternError("unexpected end of pattern")
        self.i += 1
        return tok

    def parse(self) -> Test:
        test = self.expr()
        if self.peek() is not None:
            raise PatternError(f"unexpected {self._show(self.peek())}")
        return test

    def expr(self) -> Test:
        parts = [self.conjunction()]
        while self.peek() == ("||", None):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda doc: any(p(doc) for p in parts))

    def conjunction(self) -> Test:
        parts = [self.primary()]
        while self.peek() == ("&&", None):
            self.take()
            parts.append(self.primary())
        return parts[0] if len(parts) == 1 else (lambda doc: all(p(doc) for p in parts))

    def primary(self) -> Test:
        tok = self.take()
        if tok[0] == "(":
            inner = self.expr()
            if self.take()[0] != ")":
                raise PatternError("missing ')'")
            return inner
        if tok[0] != "sel":
            raise PatternError(f"expected a selector ($.name) or '(', not {self._show(tok)}")
        path = tok[1]
        nxt = self.take()
        if nxt[0] == "op":
            value = self.take()
            if value[0] not in ("str", "word"):
                raise PatternError(f"expected a value after {nxt[1]}, not {self._show(value)}")
            return _comparison(path, nxt[1], value[0], value[1])
        if nxt[0] == "word" and nxt[1] in ("IS", "NOT"):
            word = self.take()
            if nxt[1] == "NOT" and word == ("word", "EXISTS"):
                return lambda doc: _resolve(doc, path) is _MISSING
            if nxt[1] == "IS" and word[0] == "word" and word[1] in ("NULL", "TRUE", "FALSE"):
                want = {"NULL": None, "TRUE": True, "FALSE": False}[word[1]]
                return lambda doc: _resolve(doc, path) is want
            raise PatternError(f"expected IS NULL / IS TRUE / IS FALSE / NOT EXISTS")
        raise PatternError(f"expected an operator after the selector, not {self._show(nxt)}")

    @staticmethod
    def _show(tok: tuple[str, Any] | None) -> str:
        if tok is None:
            return "the end"
        return repr(tok[1]) if tok[1] is not None else repr(tok[0])


def _json_matcher(pattern: str) -> Callable[[str], bool]:
    body = pattern.strip()
    if not body.endswith("}"):
        raise PatternError("a JSON pattern must end with '}'")
    tokens = _tokens(body[1:-1])
    if not tokens:
        raise PatternError("empty JSON pattern")
    test = _JsonParser(tokens).parse()

    def matches(message: str) -> bool:
        try:
            doc = json.loads(message)
        except (ValueError, TypeError):
            return False  # a non-JSON message never matches a JSON pattern
        return isinstance(doc, (dict, list)) and test(doc)

    return matches


# --------------------------------------------------------------------------- term patterns


_TERM_RE = re.compile(r'\s*([?-]?)("(?:[^"\\]|\\.)*"|[^\s"]+)')


def _term_matcher(pattern: str) -> Callable[[str], bool]:
    """Terms (all must appear), "quoted phrases", -excluded terms, or ?alternatives (any
    may appear); matched as case-sensitive substrings of the message."""
    terms: list[tuple[str, str]] = []
    pos = 0
    while pos < len(pattern):
        if pattern[pos:].strip() == "":
            break
        m = _TERM_RE.match(pattern, pos)
        if not m:
            raise PatternError(f"unterminated quote at position {pattern.index(chr(34), pos)}")
        prefix, text = m.group(1), m.group(2)
        if text.startswith('"'):
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        elif text[0] in "[%{":
            raise PatternError("space-delimited ([...]) and regular-expression (%...%) patterns "
                               "are not supported by the emulator")
        terms.append((prefix, text))
        pos = m.end()
    if not terms:
        return lambda message: True
    alternatives = [t for p, t in terms if p == "?"]
    if alternatives:
        if len(alternatives) != len(terms):
            raise PatternError("?terms cannot be mixed with other terms")
        return lambda message: any(t in message for t in alternatives)
    required = [t for p, t in terms if p == ""]
    excluded = [t for p, t in terms if p == "-"]
    return lambda message: (all(t in message for t in required)
                            and not any(t in message for t in excluded))


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """The message test of a filter pattern (empty: everything). Raises PatternError."""
    if pattern.strip().startswith("{"):
        return _json_matcher(pattern)
    return _term_matcher(pattern)


class EmulatorEventMessageFilter:
    """Replaces moto's EventMessageFilter (moto builds one per event, hence the cache)."""

    def __init__(self, pattern: str | None):
        try:
            self._matches = compile_pattern(pattern or "")
        except PatternError:  # FilterLogEvents refuses these before moto runs
            self._matches = lambda message: False

    def matches(self, message: str) -> bool:
        return self._matches(message)


def install() -> None:
    _logs_models.EventMessageFilter = EmulatorEventMessageFilter  # type: ignore[misc]


# --------------------------------------------------------------------------- log groups


def log_group_arn_parts(arn: str) -> tuple[str, str, str] | None:
    """(region, account, name) of `arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]`."""
    m = _LOG_GROUP_ARN_RE.fullmatch(arn)
    return (m.group(1), m.group(2), m.group(3)) if m else None


def find_log_group(account: str, region: str, name: str) -> LogGroup | None:
    try:
        backend = logs_backends[account][region]
    except KeyError:  # a region moto does not know
        return None
    return backend.groups.get(name)


def put_event(group: LogGroup, stream: str, timestamp_ms: int, message: str) -> None:
    """Appends one event to a stream of the group (created if needed), as delivered by an
    AWS service: PutLogEvents' 14-days-old / 2-hours-ahead window does not apply."""
    if stream not in group.streams:
        group.create_log_stream(stream)
    group.streams[stream].put_log_events([{"timestamp": timestamp_ms, "message": message}])


# --------------------------------------------------------------------------- FilterLogEvents


def _int_member(params: dict, key: str, errors: list[str], lo: int, hi: int | None) -> None:
    val = params.get(key)
    if val is None:
        return
    if isinstance(val, bool) or not isinstance(val, int):
        raise _wrong_type(key, "an integer")
    if val < lo:
        errors.append(f"Value '{val}' at '{key}' failed to satisfy constraint: "
                      f"Member must have value greater than or equal to {lo}")
    if hi is not None and val > hi:
        errors.append(f"Value '{val}' at '{key}' failed to satisfy constraint: "
                      f"Member must have value less than or equal to {hi}")


def _str_member(params: dict, key: str) -> str | None:
    val = params.get(key)
    if val is not None and not isinstance(val, str):
        raise _wrong_type(key, "a string")
    return val


def prepare_filter_log_events(params: dict, account: str, region: str) -> tuple[dict, dict | None]:
    """Checks a FilterLogEvents request before moto sees it. Returns (the request to hand to
    moto, None), or (params, the answer itself) when no stream matches logStreamNamePrefix.
    Raises AwsError (InvalidParameterException, SerializationException)."""
    errors: list[str] = []
    _int_member(params, "limit", errors, 1, LIMIT_MAX)
    _int_member(params, "startTime", errors, 0, None)
    _int_member(params, "endTime", errors, 0, None)
    pattern = _str_member(params, "filterPattern")
    if pattern is not None and len(pattern) > FILTER_PATTERN_MAX:
        errors.append("Value at 'filterPattern' failed to satisfy constraint: Member must have "
                      f"length less than or equal to {FILTER_PATTERN_MAX}")
    names = params.get("logStreamNames")
    if names is not None:
        if not isinstance(names, list) or not all(isinstance(s, str) for s in names):
            raise _wrong_type("logStreamNames", "a list of strings")
        if not 1 <= len(names) <= STREAM_NAMES_MAX:
            errors.append(f"Value '{names}' at 'logStreamNames' failed to satisfy constraint: "
                          f"Member must have length between 1 and {STREAM_NAMES_MAX}")
    prefix = _str_member(params, "logStreamNamePrefix")
    if prefix == "":
        errors.append("Value '' at 'logStreamNamePrefix' failed to satisfy constraint: "
                      "Member must have length greater than or equal to 1")
    group_name = _str_member(params, "logGroupName")
    identifier = _str_member(params, "logGroupIdentifier")
    if errors:
        raise _validation_error(errors)
    # The API reference: "You must include one of these two parameters, but you can't include
    # both", and InvalidParameterException for both logStreamNames and logStreamNamePrefix.
    # The messages are the emulator's.
    if (group_name is None) == (identifier is None):
        raise AwsError("InvalidParameterException",
                       "Specify exactly one of logGroupName and logGroupIdentifier")
    if names is not None and prefix is not None:
        raise AwsError("InvalidParameterException",
                       "logStreamNames and logStreamNamePrefix cannot both be specified")
    if pattern:
        try:
            compile_pattern(pattern)
        except PatternError as e:
            raise AwsError("InvalidParameterException", f"Invalid filter pattern: {e}") from None
    out = dict(params)
    if identifier is not None:
        if identifier.startswith("arn:"):
            parts = log_group_arn_parts(identifier)
            if parts is None:
                raise AwsError("InvalidParameterException",
                               f"Invalid log group identifier: {identifier}")
            group_name = parts[2]
        else:
            group_name = identifier
        del out["logGroupIdentifier"]
        out["logGroupName"] = group_name
    if prefix is not None:
        del out["logStreamNamePrefix"]
        group = find_log_group(account, region, group_name)
        if group is not None:  # else moto answers ResourceNotFoundException
            matching = [s for s in group.streams if s.startswith(prefix)]
            if not matching:
                return out, {"events": [], "searchedLogStreams": []}
            out["logStreamNames"] = matching
    # Ignored by AWS since 2019 ("the value is assumed to be true"): always interleave.
    out["interleaved"] = True
    return out, None
