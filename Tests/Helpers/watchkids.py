#!/usr/bin/env python3
"""A process tree for the watch tests: forks children that touch known amounts, in turn.

usage: watchkids.py [--gate] [--hold SECONDS] [--cgroup DIR] [--together] MIB [MIB ...]

--gate      wait for a line on stdin before the first fork (so a watch can start first)
--hold      how long each child holds its memory before it exits (default 0.5)
--cgroup    each child moves itself into this cgroup (cgroup.procs) before it allocates
--together  fork every child at once (they hold their memory at the same time) instead of in turn
--sleepers N  instead: N children that touch nothing and sleep for --hold; `ready` once all are
            forked; the helper leads its own process group (kill -PID ends the tree)

Each child touches MIB MiB (every page written), holds it, and prints `child PID MIB HWM HELD`
from its own /proc/self/status — HWM: VmHWM at the end; HELD: the smaller VmRSS of the start
and the end of the hold — then exits. The parent prints
`killed PID SIGNAL` for a child that died of a signal (the OOM killer's SIGKILL) and
`done` at the end.
"""
import os
import sys
import time


def status(key):
    with open("/proc/self/status") as lines:
        for line in lines:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def child(mib, hold, cgroup):
    if cgroup:
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as procs:
            procs.write(str(os.getpid()))
    status("VmHWM")  # once before: what reading the file costs is paid before the peak
    block = b"\x01" * (mib << 20)  # malloc + memset: every page touched
    held = status("VmRSS")
    time.sleep(hold)
    print("child %d %d %d %d" % (os.getpid(), mib, status("VmHWM"), min(held, status("VmRSS"))), flush=True)
    del block
    os._exit(0)


def main():
    args = sys.argv[1:]
    gate, hold, cgroup, together, sleepers = False, 0.5, None, False, 0
    sizes = []
    while args:
        arg = args.pop(0)
        if arg == "--gate":
            gate = True
        elif arg == "--hold":
            hold = float(args.pop(0))
        elif arg == "--cgroup":
            cgroup = args.pop(0)
        elif arg == "--together":
            together = True
        elif arg == "--sleepers":
            sleepers = int(args.pop(0))
        else:
            sizes.append(int(arg))
    if gate:
        sys.stdin.readline()
    if sleepers:
        os.setpgrp()
        for _ in range(sleepers):
            if os.fork() == 0:
                time.sleep(hold)
                os._exit(0)
        print("ready", flush=True)
        while True:
            try:
                os.wait()
            except ChildProcessError:
                break
        return
    pids = []
    for mib in sizes:
        pid = os.fork()
        if pid == 0:
            child(mib, hold, cgroup)
        pids.append(pid)
        if not together:
            report(pid)
    if together:
        for pid in pids:
            report(pid)
    print("done", flush=True)


def report(pid):
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        print("killed %d %d" % (pid, os.WTERMSIG(status)), flush=True)


if __name__ == "__main__":
    main()
