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
