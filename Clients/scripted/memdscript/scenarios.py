"""The scenario loader: what a scenario file holds, and the variables its steps use.

A scenario is a JSON file in Clients/scripted/scenarios/ (its format: Clients/README.md):

    {"name": "...", "description": "...",
     "requires": ["method", ...],         # skipped when rpc.discover does not list these
     "variables": {"name": value, ...},   # beside the built-in ones below
     "steps": [ {"name": ..., "method": ..., "params": ..., "expect": {...}}, ... ]}

Steps refer to variables as "$name" (the value itself) or "${name}" inside a string. Built in:
$pid, $ppid, $uid, $gid (the runner's), $unusedPid (no process has it), $nobody (65534), $comm;
a step's "saveAs"/"saveId" adds more. Adding a scenario needs only this file's format and the
`expect` checks in validator.py.
"""

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .common import StepFailure, _loads, _to_text, unused_pid


@dataclass
class Scenario:
    name: str
    steps: list
    variables: dict = field(default_factory=dict)
    requires: list = field(default_factory=list)


def load_scenario(path):
    """Reads one scenario file (OSError or ValueError when it cannot be read or is not JSON)."""
    with open(path) as f:
        sc = _loads(f.read())
    if not isinstance(sc, dict):
        raise ValueError("a scenario is a JSON object")
    return Scenario(
        name=sc.get("name") or Path(path).stem,
        steps=sc.get("steps", []),
        variables=sc.get("variables", {}),
        requires=sc.get("requires", []),
    )


class ScenarioVariables:
    """The variables of the scenario being run (a mixin of Runner: self.variables)."""

    def base_variables(self):
        v = {"pid": os.getpid(), "ppid": os.getppid(), "uid": os.getuid(), "gid": os.getgid(),
             "unusedPid": unused_pid(), "nobody": 65534}
        try:
            v["comm"] = open("/proc/self/comm").read().strip()
        except OSError:
            pass
        return v

    # -- variables in data
    def subst(self, value):
        if isinstance(value, str):
            m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", value)
            if m:
                return self.var(m.group(1))
            return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: _to_text(self.var(m.group(1))), value)
        if isinstance(value, list):
            return [self.subst(x) for x in value]
        if isinstance(value, dict):
            return {k: self.subst(v) for k, v in value.items()}
        return value

    def var(self, name):
        if name not in self.variables:
            raise StepFailure("variable $%s is not set (did an earlier step fail?)" % name)
        return self.variables[name]
