"""What every part of memd-script shares: how a step fails or is skipped, and short renderings."""

import json
import os


class StepFailure(Exception):
    pass


class StepSkipped(Exception):
    pass


def _describe(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer %d" % v
    if isinstance(v, float):
        return "number %r" % v
    if isinstance(v, str):
        return "string %s" % _short(v)
    if isinstance(v, list):
        return "array"
    return "object"


def _short(v, n=80):
    s = json.dumps(v, separators=(",", ":")) if not isinstance(v, str) else json.dumps(v)
    return s if len(s) <= n else s[:n - 3] + "..."


class _AnyId:
    def __repr__(self):
        return "any"


_ANY = _AnyId()


def _line(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


def _to_text(v):
    return v if isinstance(v, str) else json.dumps(v)


def unused_pid():
    try:
        pid_max = int(open("/proc/sys/kernel/pid_max").read())
    except (OSError, ValueError):
        pid_max = 32768
    for pid in range(pid_max - 1, 1, -1):
        if not os.path.exists("/proc/%d" % pid):
            return pid
    return pid_max - 1


class ExactNumber(float):
    """A JSON number whose text is not an integer's (1.50, 1e400, -0): a float that keeps
    the digits it came with, so that ids are compared digit for digit (memd echoes an id
    exactly, limits.md v3)."""

    def __new__(cls, text):
        number = super().__new__(cls, float(text))
        number.text = text
        return number


def _exact_int(text):
    return ExactNumber(text) if text == "-0" else int(text)


def _loads(text):
    """JSON as Python values, numbers keeping their digits (see ExactNumber)."""
    return json.loads(text, parse_float=ExactNumber, parse_int=_exact_int)


def _number_text(v):
    return v.text if isinstance(v, ExactNumber) else repr(v)
