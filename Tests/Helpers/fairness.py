#!/usr/bin/env python3
"""fairness.py — one uid attacks memd with legal calls while another uid measures it.

The attacks of limits.md §3 (fair shares, backpressure on every write), each a role
run as its own process with the attacker's uid, and a bystander run with another
uid that times `meminfo` and a `maps` of its own process meanwhile. Used by the
tests (Tests/MemdServerTests/FairnessTests.swift: one attack at a time, seconds
each) and by scripts/soak (all of them at once, for minutes).

  fairness.py run --socket PATH --memd-pid PID --seconds S ATTACK [ATTACK …]

prints one JSON object: the bystander's latencies (p50/p90/p99/max, ms) alone
(`baseline`, before the attack) and under attack, what the
attackers did, memd's RSS (MiB) before, at its peak and after the attackers left,
and every reply that was lost or malformed. Run as root (it drops to the uids).

Attacks: sim, watch, discover, noread, bigline, pipeline, usage, halfclose, churn,
experiments, methods (every method in turn), metrics (the HTTP door of --metrics-listen, from other loopback addresses).
"""
import argparse, json, os, signal, socket, subprocess, sys, threading, time

ATTACKER_UID = 65534  # nobody
BYSTANDER_UID = 1  # daemon: another uid that is not root
# How many times slower than a plain build the memd under attack runs: scripts/sanitize sets it for
# a sanitizer's build (as for the Swift tests, Tests/TestSupport/Sanitizer.swift); 1 otherwise.
# Replies are waited for that many times longer, and the sim attack's calls are that many times
# shorter, so that each still takes about as long as in a plain build.
SLOWDOWN = max(1.0, float(os.environ.get("MEMD_TEST_SLOWDOWN") or 1))

# MARK: - a client


class Conn:
    """One connection; replies read as lines."""

    def __init__(self, path, timeout=30):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.settimeout(timeout * SLOWDOWN)
        self.s.connect(path)
        self.buf = b""
        self.next_id = 0

    def send(self, obj):
        self.s.sendall((json.dumps(obj, separators=(",", ":")) + "\n").encode())

    def request(self, method, params=None, id=None):
        if id is None:
            self.next_id += 1
            id = self.next_id
        msg = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        return msg

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise EOFError("memd closed the connection")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line

    def call(self, method, params=None):
        msg = self.request(method, params)
        self.send(msg)
        reply = json.loads(self.line())
        if reply.get("id") != msg["id"]:
            raise ValueError(f"reply for id {reply.get('id')!r}, expected {msg['id']!r}")
        return reply

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def result(reply):
    if "error" in reply:
        raise RuntimeError(f"error {reply['error']}")
    return reply["result"]


def until(seconds):
    end = time.monotonic() + seconds
    return lambda: time.monotonic() < end


# What a role's threads tally their failures into, and when the role ends (set by `role`).
ROLE_TALLY = None
ROLE_END = float("inf")


def keep_going(target, *args):
    """Runs `target` until it returns or the role's time is up; a failure (memd refused a
    connection over its per-uid limit, a timeout) is tallied and the target started again."""
    while True:
        try:
            return target(*args)
        except Exception as e:  # noqa: BLE001
            if ROLE_TALLY is None:
                raise
            ROLE_TALLY.add(f"failed: {type(e).__name__}: {e}"[:70])
            if time.monotonic() + 0.2 >= ROLE_END:
                return None
            time.sleep(0.2)


def threads(n, target):
    ts = [threading.Thread(target=keep_going, args=(target, i), daemon=True) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}

    def add(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n


# MARK: - the bystander


def bystander(path, seconds, period=0.02, series=None):
    """meminfo every `period` s on one connection, maps of itself every 5th time on another;
    with `series`, each second's figures are appended to that file as a JSON line."""
    times = {"meminfo": [], "maps": []}
    bad = []
    a, b = Conn(path), Conn(path)
    live = until(seconds)
    i = 0
    second, marks = time.monotonic(), {"meminfo": 0, "maps": 0}
    out = open(series, "a") if series else None
    while live():
        if out and time.monotonic() - second >= 1:
            second = time.monotonic()
            row = {k: summary(v[marks[k] :]) for k, v in times.items()}
            marks = {k: len(v) for k, v in times.items()}
            out.write(json.dumps({"t": round(time.time(), 1), **row, "failures": len(bad)}) + "\n")
            out.flush()
        for name, conn, method, params in (
            ("meminfo", a, "meminfo", None),
            ("maps", b, "maps", {"pid": os.getpid()}),
        ):
            if name == "maps" and i % 5:
                continue
            t = time.perf_counter()
            try:
                reply = conn.call(method, params)
                result(reply)
            except Exception as e:  # noqa: BLE001 — every failure is a finding
                bad.append(f"{method}: {e}")
                continue
            times[name].append((time.perf_counter() - t) * 1e3)
        i += 1
        time.sleep(period)
    return {"latencyMs": {k: summary(v) for k, v in times.items()}, "failed": bad[:20], "failures": len(bad)}


def summary(values):
    if not values:
        return {"n": 0}
    v = sorted(values)

    def q(p):
        return round(v[min(len(v) - 1, int(p * len(v)))], 2)

    return {"n": len(v), "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": round(v[-1], 2)}


# MARK: - the attacks (each runs for `seconds`, as the attacker)


def attack_sim(path, seconds, tally, connections=8, depth=30):
    """Random-walk simulateTranslation, `depth` queued on each connection's own machine."""
    live = until(seconds)

    def one(i):
        c = Conn(path, timeout=120)
        m = result(c.call("sim.create", {"physicalBytes": 1 << 30}))["machine"]
        pid = result(c.call("sim.spawn", {"machine": m}))["pid"]
        region = result(c.call("sim.mmap", {"machine": m, "pid": pid, "length": 256 << 20, "prot": "rw-"}))["address"]
        count = int(2_000_000 / SLOWDOWN)
        pattern = {"start": region, "length": 256 << 20, "count": count, "order": "random", "seed": i + 1}
        params = {"machine": m, "pid": pid, "pattern": pattern, "summaryOnly": True}
        outstanding = 0
        while live():
            while outstanding < depth:
                c.send(c.request("simulateTranslation", params))
                outstanding += 1
            reply = json.loads(c.line())
            outstanding -= 1
            tally.add("error" if "error" in reply else "answered")
        c.close()  # what is still queued is cancelled
        Conn(path, timeout=120).call("sim.destroy", {"machine": m})

    threads(connections, one)


def attack_watch(path, seconds, tally, processes=600, connections=16):
    """`watch` with `pss` over `processes` of the attacker's own processes, on `connections` connections."""
    kids = [subprocess.Popen(["sleep", str(seconds + 30)]) for _ in range(processes)]
    pids = [k.pid for k in kids]
    try:
        live = until(seconds)

        def one(i):
            c = Conn(path)
            watch = 1000 + i  # a watch's id is its request's, unique among the uid's connections
            c.send(c.request("watch", {"pids": pids, "pss": True, "intervalMs": 100}, id=watch))
            c.s.settimeout(1)
            while live():
                try:
                    msg = json.loads(c.line())
                except TimeoutError:
                    continue  # the first sample of 600 processes takes a while
                tally.add("sample" if msg.get("method") == "watch.sample" else "error")
            c.s.settimeout(60 * SLOWDOWN)
            c.send(c.request("watch.stop", {"id": watch}, id=2))
            ends = 0
            while ends < 2:
                msg = json.loads(c.line())
                if msg.get("id") == 2 and msg.get("result", {}).get("stopped") is False:
                    # The watch was not running yet (its call still waiting for the uid's share):
                    # ask again rather than wait for a watch that runs on.
                    time.sleep(0.2)
                    c.send(c.request("watch.stop", {"id": watch}, id=2))
                    continue
                ends += 1 if "id" in msg else 0
            c.close()

        threads(connections, one)
    finally:
        for k in kids:
            k.kill()
            k.wait()


def attack_discover(path, seconds, tally, connections=2, batch=16):
    """16-entry rpc.discover batches, as fast as the replies come back."""
    live = until(seconds)

    def one(i):
        c = Conn(path)
        line = (
            json.dumps([{"jsonrpc": "2.0", "id": k, "method": "rpc.discover"} for k in range(batch)]) + "\n"
        ).encode()
        while live():
            c.s.sendall(line)
            c.line()
            tally.add("batches")
        c.close()

    threads(connections, one)


def attack_noread(path, seconds, tally, connections=8, lines=8, batch=200):
    """On each connection, 8 lines of 200-entry rpc.discover batches (12 MB of replies each),
    never read; then gone."""
    live = until(seconds)
    line = (json.dumps([{"jsonrpc": "2.0", "id": k, "method": "rpc.discover"} for k in range(batch)]) + "\n").encode()

    def one(i):
        c = Conn(path)
        c.s.setblocking(False)
        data = line * lines
        while data and live():
            try:
                data = data[c.s.send(data) :]
            except BlockingIOError:
                time.sleep(0.05)
        tally.add("sentLines", lines - len(data) // len(line))
        while live():
            time.sleep(0.1)
        c.close()

    threads(connections, one)


def attack_bigline(path, seconds, tally, connections=2, size=1 << 20):
    """Lines of almost 1 MiB (a long string param), pipelined: parsed, then refused as unknown."""
    live = until(seconds)
    pad = "x" * (size - 200)

    def one(i):
        c = Conn(path)
        line = (json.dumps({"jsonrpc": "2.0", "id": 1, "method": "meminfo", "params": {"pad": pad}}) + "\n").encode()
        while live():
            c.s.sendall(line)
            reply = json.loads(c.line())
            tally.add("refused" if reply.get("error", {}).get("code") == -32602 else "other")
        c.close()

    threads(connections, one)


def attack_pipeline(path, seconds, tally, connections=48, burst=500):
    """Bursts of `burst` pipelined meminfo calls on many connections."""
    live = until(seconds)
    line = b"".join(
        (json.dumps({"jsonrpc": "2.0", "id": k, "method": "meminfo"}) + "\n").encode() for k in range(burst)
    )

    def one(i):
        c = Conn(path)
        while live():
            c.s.sendall(line)
            for _ in range(burst):
                c.line()
            tally.add("calls", burst)
        c.close()

    threads(connections, one)


def attack_usage(path, seconds, tally, connections=4):
    """`usage` of the whole host, back to back."""
    live = until(seconds)

    def one(i):
        c = Conn(path)
        while live():
            reply = c.call("usage", {"by": "user"})
            tally.add("error" if "error" in reply else "answered")
        c.close()

    threads(connections, one)


def attack_bigmaps(path, seconds, tally, connections=8, mappings=20000):
    """`maps` with detail of a process of 20,000 mappings (the attacker's own), back to back on
    every connection: each call offers its reading ahead and its smaps_rollup to more threads."""
    import mmap
    keep = [mmap.mmap(-1, 4096, prot=mmap.PROT_READ | (mmap.PROT_WRITE if i % 2 else 0)) for i in range(mappings)]
    live = until(seconds)

    def one(i):
        c = Conn(path, timeout=120)
        while live():
            reply = c.call("maps", {"pid": os.getpid(), "detail": True})
            tally.add("error" if "error" in reply else "answered")
        c.close()

    threads(connections, one)
    del keep


def attack_halfclose(path, seconds, tally):
    """Clients that send a few calls, shut their writing side, and read what comes."""
    live = until(seconds)
    while live():
        c = Conn(path)
        c.s.sendall(
            b'{"jsonrpc":"2.0","id":1,"method":"meminfo"}\n{"jsonrpc":"2.0","id":2,"method":"pageStats","params":{"intervalMs":200}}\n'
        )
        c.s.shutdown(socket.SHUT_WR)
        got = 0
        try:
            while True:
                c.line()
                got += 1
        except EOFError:
            pass
        tally.add("complete" if got == 2 else "lost")
        c.close()


def attack_churn(path, seconds, tally):
    """Connections opened, used once or not at all, and dropped mid-call."""
    live = until(seconds)
    i = 0
    while live():
        c = Conn(path)
        if i % 3 == 0:
            c.send(c.request("maps", {"pid": os.getpid(), "detail": True}))
        elif i % 3 == 1:
            c.call("meminfo")
        c.close()
        tally.add("connections")
        i += 1


def attack_experiments(path, seconds, tally):
    """Experiments back to back (one at a time: one per uid), some cancelled by hanging up."""
    live = until(seconds)
    i = 0
    while live():
        c = Conn(path, timeout=150)
        params = {"name": ["demandPaging", "cow", "mmap", "filemap"][i % 4], "sizeBytes": 16 << 20}
        if i % 5 == 4:
            c.send(c.request("runExperiment", params))
            time.sleep(0.3)
            tally.add("hungUp")
        else:
            reply = c.call("runExperiment", params)
            tally.add("answered" if "result" in reply else "error: " + str(reply["error"].get("message"))[:60])
        c.close()
        i += 1


def well_formed(reply, id):
    """A JSON-RPC 2.0 reply to `id`: exactly one of result and error, an error with an integer code."""
    if reply.get("jsonrpc") != "2.0" or reply.get("id") != id or ("result" in reply) == ("error" in reply):
        return False
    return "result" in reply or isinstance(reply["error"].get("code"), int)


def attack_methods(path, seconds, tally):
    """Every method rpc.discover names, in turn, with legal params (the sim.* ones on a machine of
    the attacker's own); a method this list does not know yet is called without params. Each reply
    must be a well-formed reply to its own id, result or error."""
    live = until(seconds)
    c = Conn(path, timeout=60)
    names = [m["name"] for m in result(c.call("rpc.discover"))["methods"]]

    def call(method, params=None):
        msg = c.request(method, params)
        c.send(msg)
        reply = json.loads(c.line())
        while reply.get("method"):  # a notification (watch.sample, progress) before the reply
            reply = json.loads(c.line())
        if not well_formed(reply, msg["id"]):
            tally.add("malformed")
        else:
            tally.add(method if "result" in reply else f"{method}: error {reply['error']['code']}")
        return reply.get("result") or {}

    pid = os.getpid()
    while live():
        m = call("sim.create", {"physicalBytes": 16 << 20}).get("machine")
        sp = call("sim.spawn", {"machine": m, "command": "soak"}).get("pid")
        region = call("sim.mmap", {"machine": m, "pid": sp, "length": 1 << 20, "prot": "rw-"}).get("address")
        known = {
            "rpc.discover": None,
            "meminfo": {},
            "maps": {"pid": pid, "detail": True},
            "pageStats": {"pid": pid, "intervalMs": 100},
            "runExperiment": {"name": "segv"},
            "sim.touch": {"machine": m, "pid": sp, "address": region, "length": 1 << 20, "access": "write"},
            "sim.read": {"machine": m, "pid": sp, "address": region, "length": 64},
            "sim.write": {"machine": m, "pid": sp, "address": region, "data": "soak"},
            "sim.fork": {"machine": m, "pid": sp},
            "sim.list": None,
            "simulateTranslation": {
                "machine": m, "pid": sp,
                "pattern": {"start": region, "length": 1 << 20, "count": 1000, "order": "random", "seed": 7},
            },
            "usage": {"by": "process", "limit": 10},
            "cgroups": {"depth": 1},
            "watch": {"pids": [pid], "intervalMs": 100, "count": 3},
            "workingSet": {"pid": pid, "intervalMs": 100},
            "pageFlags": {"pid": pid},
        }
        for name in names:
            if name in ("sim.create", "sim.spawn", "sim.mmap", "sim.munmap", "sim.exit", "sim.destroy", "watch.stop"):
                continue
            call(name, known.get(name))
        call("watch.stop", {"id": 0})
        call("sim.munmap", {"machine": m, "pid": sp, "address": region, "length": 1 << 20})
        call("sim.exit", {"machine": m, "pid": sp})
        call("sim.destroy", {"machine": m})
    c.close()


def metrics_connect(port, source):
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    return s


def attack_metrics(path, seconds, tally, port=None):
    """The metrics door: peers that pipeline GET /metrics and never read, and peers that hold
    idle keep-alive connections with a cheap request now and then (each from its own address)."""
    if not port:
        return
    live = until(seconds)
    request = b"GET /metrics HTTP/1.1\r\nHost: memd\r\n\r\n"

    def flood(i):
        # Up to 200 pipelined requests, never read: memd answers one at a time, each once the
        # last is written, and closes the connection 10 s after its unanswered request began.
        while live():
            try:
                s = metrics_connect(port, f"127.0.0.{2 + i % 2}")
                s.setblocking(False)
                sent = 0
                while live() and sent < 200:
                    try:
                        sent += s.send(request) // len(request)
                    except BlockingIOError:
                        time.sleep(0.2)
                    except OSError:
                        break
                tally.add("floods")
                s.close()
            except OSError:
                tally.add("refused")
                time.sleep(0.5)

    def hold(i):
        # Eight holders per address: four get slots (memd's per-peer cap), the others are
        # closed unanswered, and a held slot is closed when a newcomer needs it (the door
        # closes the longest-idle one): each of these is a read of end of file, tallied.
        while live():
            try:
                s = metrics_connect(port, f"127.0.0.{4 + i % 2}")
                while live():
                    s.sendall(b"GET /nothing HTTP/1.1\r\nHost: memd\r\n\r\n")
                    if not s.recv(65536):
                        tally.add("heldClosed")
                        s.close()
                        time.sleep(0.2)
                        break
                    time.sleep(4)
            except OSError:
                tally.add("heldClosed")
                time.sleep(0.2)

    ts = [threading.Thread(target=flood, args=(i,), daemon=True) for i in range(8)]
    ts += [threading.Thread(target=hold, args=(i,), daemon=True) for i in range(16)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


ATTACKS = {
    "sim": attack_sim,
    "watch": attack_watch,
    "discover": attack_discover,
    "noread": attack_noread,
    "bigline": attack_bigline,
    "pipeline": attack_pipeline,
    "usage": attack_usage,
    "bigmaps": attack_bigmaps,
    "halfclose": attack_halfclose,
    "churn": attack_churn,
    "experiments": attack_experiments,
    "metrics": attack_metrics,
    "methods": attack_methods,
}

# MARK: - roles and the run


def role(args):
    """Runs inside the process that already has its uid: prints its JSON."""
    if args.role == "bystander":
        out = bystander(args.socket, args.seconds, series=args.series)
    else:
        global ROLE_TALLY, ROLE_END
        tally = ROLE_TALLY = Tally()
        ROLE_END = time.monotonic() + args.seconds
        extra = {"port": args.metrics_port} if args.role == "metrics" else {}
        if args.connections:
            extra["connections"] = args.connections

        def attack():
            ATTACKS[args.role](args.socket, ROLE_END - time.monotonic(), tally, **extra)

        keep_going(attack)
        out = tally.counts
    print(json.dumps(out))


def as_uid(uid, argv):
    return subprocess.Popen(
        ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "/usr/bin/python3", __file__] + argv,
        stdout=subprocess.PIPE,
        text=True,
    )


def rss_mib(pid, field="VmRSS"):
    """memd's resident memory (VmRSS), or its anonymous part (RssAnon: what it holds, without the
    pages of its own binary and libraries that its code paths touched), in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def proc_descriptors(pid):
    """How many of memd's descriptors are open on /proc/<pid> directories and files."""
    n = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            n += target.startswith("/proc/") and target[6:7].isdigit()
    except OSError:
        pass
    return n


def run(args):
    base = ["role", "--socket", args.socket, "--seconds", str(args.seconds)]
    # The bystander alone first: what this machine's own load costs its calls, with no attack.
    alone = as_uid(args.bystander_uid, ["role", "--socket", args.socket, "--seconds", str(args.baseline), "--role", "bystander"])
    baseline = json.loads(alone.communicate()[0] or "{}")
    before, anon_before = rss_mib(args.memd_pid), rss_mib(args.memd_pid, "RssAnon")
    attackers = {name: as_uid(ATTACKER_UID, base + ["--role", name]) for name in args.attacks}
    time.sleep(args.warmup)  # the attack under way before the bystander starts timing
    watcher = as_uid(args.bystander_uid, ["role", "--socket", args.socket, "--seconds", str(args.seconds - args.warmup), "--role", "bystander"])
    peak, anon_peak, proc_peak, tick = before, anon_before, 0, 0
    while watcher.poll() is None or any(p.poll() is None for p in attackers.values()):
        peak = max(peak, rss_mib(args.memd_pid))
        anon_peak = max(anon_peak, rss_mib(args.memd_pid, "RssAnon"))
        if tick % 5 == 0:
            proc_peak = max(proc_peak, proc_descriptors(args.memd_pid))
        tick += 1
        time.sleep(0.1)
    time.sleep(args.settle)
    out = {
        "baseline": baseline,
        "bystander": json.loads(watcher.stdout.read() or "{}"),
        "attackers": {n: json.loads(p.stdout.read() or "{}") for n, p in attackers.items()},
        "rssMiB": {"before": round(before, 1), "peak": round(peak, 1), "after": round(rss_mib(args.memd_pid), 1)},
        "anonMiB": {
            "before": round(anon_before, 1), "peak": round(anon_peak, 1),
            "after": round(rss_mib(args.memd_pid, "RssAnon"), 1),
        },
        "procDescriptorsPeak": proc_peak,
    }
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--socket", required=True)
    r.add_argument("--memd-pid", type=int, required=True)
    r.add_argument("--seconds", type=float, default=8)
    r.add_argument("--warmup", type=float, default=1.5)
    r.add_argument("--settle", type=float, default=2)
    r.add_argument("--baseline", type=float, default=2, help="seconds of the bystander alone, before the attack")
    r.add_argument("--bystander-uid", type=int, default=BYSTANDER_UID, help="the attacker's own: its connections' turns")
    r.add_argument("attacks", nargs="+", choices=sorted(ATTACKS))
    o = sub.add_parser("role")
    o.add_argument("--socket", required=True)
    o.add_argument("--seconds", type=float, required=True)
    o.add_argument("--role", required=True, choices=sorted(ATTACKS) + ["bystander"])
    o.add_argument("--metrics-port", type=int)
    o.add_argument("--connections", type=int, help="how many connections the attack opens (its default otherwise)")
    o.add_argument("--series", help="bystander: append each second's latencies here (JSON lines)")
    args = ap.parse_args()
    (run if args.cmd == "run" else role)(args)


if __name__ == "__main__":
    main()
