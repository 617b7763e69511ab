"""The runner: connections, the steps of a scenario in order (requests, raw bytes, batches,
notifications, steps run as another user), the processes and files steps set up."""

import json
import os
import socket
import time

from .common import _ANY, StepFailure, StepSkipped, _line, _short
from .connection import Closed, Conn, _idkey
from .scenarios import ScenarioVariables, load_scenario
from .validator import EvalError, ResponseChecks, SafeEval

class Runner(ScenarioVariables, ResponseChecks):
    def __init__(self, socket_path, openrpc, verbose=False, json_ids=True):
        self.socket_path = socket_path
        self.openrpc = openrpc
        self.verbose = verbose
        self.passed = self.failed = self.skipped = 0
        self.next_id = 1
        self.conns = {}
        self.variables = {}
        self.scenario_name = ""
        self.mapped = []
        self.children = []
        self.started = set()

    # -- bookkeeping
    def conn(self, name="main", fresh=False):
        c = self.conns.get(name)
        if fresh and c is not None:
            c.close()
            c = None
        if c is None or c.closed:
            try:
                c = Conn(self.socket_path)
            except OSError as e:
                raise StepFailure("cannot connect to %s: %s" % (self.socket_path, e))
            self.conns[name] = c
        return c

    def close_all(self):
        for c in self.conns.values():
            c.close()
        self.conns = {}

    def new_id(self):
        i = self.next_id
        self.next_id += 1
        return i

    # -- scenarios
    def run_file(self, path, only=None):
        try:
            sc = load_scenario(path)
        except (OSError, ValueError) as e:
            self.fail(os.path.basename(path), "cannot read scenario: %s" % e)
            return
        name = sc.name
        self.scenario_name = name
        steps = sc.steps
        if only and not any(o in name for o in only):
            return
        self.variables = self.base_variables()
        self.variables.update(sc.variables)
        self.close_all()
        missing = [m for m in sc.requires if m not in self.discovered]
        if missing:
            print("SKIP %s: server does not list %s in rpc.discover (%d steps)" % (
                name, ", ".join(missing), len(steps)))
            self.skipped += len(steps)
            return
        for i, step in enumerate(steps):
            label = "%s #%d %s" % (name, i + 1, step.get("name", step.get("method", "")))
            if "skip" in step:
                print("SKIP %s: %s" % (label, step["skip"]))
                self.skipped += 1
                continue
            try:
                if step.get("as"):
                    self.run_as(step)
                else:
                    self.run_step(step)
            except StepSkipped as e:
                print("SKIP %s: %s" % (label, e))
                self.skipped += 1
            except StepFailure as e:
                self.fail(label, str(e))
            except Closed as e:
                self.fail(label, "connection closed: %s" % e)
            except socket.timeout:
                self.fail(label, "no reply within %d ms" % step.get("timeoutMs", 30000))
            except Exception as e:  # a bug in the runner or scenario must not stop the run
                self.fail(label, "runner error: %s: %s" % (type(e).__name__, e))
            else:
                self.passed += 1
                if self.verbose:
                    print("ok   %s" % label)
        self.close_all()
        self.unmap_files()
        self.reap_children()

    def fail(self, label, reason):
        self.failed += 1
        print("FAIL %s: %s" % (label, reason), flush=True)

    def discover(self):
        self.discovered = set()
        try:
            c = Conn(self.socket_path)
        except OSError as e:
            return "cannot connect to %s: %s" % (self.socket_path, e)
        try:
            c.send(b'{"jsonrpc":"2.0","id":"discover","method":"rpc.discover"}\n')
            deadline = time.monotonic() + 30
            while True:
                m = c.read(deadline)
                if isinstance(m, dict) and m.get("id") == "discover":
                    break
            doc = m.get("result")
            if isinstance(doc, dict):
                self.served_doc = doc
                self.discovered = {x.get("name") for x in doc.get("methods", []) if isinstance(x, dict)}
                self.discovered.add("rpc.discover")
            else:
                return "rpc.discover failed: %s" % _short(m.get("error"))
        except (Closed, socket.timeout, StepFailure) as e:
            return "rpc.discover failed: %s" % (e or "timeout")
        finally:
            c.close()
        return None

    def map_file(self, step):
        """Map a file into the runner itself (so maps of $pid shows it); optionally delete it."""
        import ctypes
        import mmap
        path = self.subst(step["mapFile"])
        with open(path, "wb") as f:
            f.write(b"memd-script\n" * 1024)
        f = open(path, "r+b")
        m = mmap.mmap(f.fileno(), 8192, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        m[0]  # read the first page: the fault maps it, so pagemap shows it present
        c = ctypes.c_char.from_buffer(m)
        addr = ctypes.addressof(c)
        del c
        self.mapped.append((m, f, path))
        if step.get("delete"):
            os.unlink(path)
        name = step.get("saveAs", "mappedFile")
        self.variables[name] = path
        self.variables[name + "Address"] = "0x%x" % addr

    def spawn_sleeper(self, step):
        """Start a process that sleeps as another user (to read a process the caller does not own)."""
        if step["spawn"] != "nobody":
            raise StepFailure("spawn: only \"nobody\"")
        if os.getuid() != 0:
            raise StepSkipped("runner is not root, cannot start a process as nobody")
        pid = os.fork()
        if pid == 0:
            try:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
                # exec: a process that only changed its credentials is not dumpable, and
                # the kernel (and memd) would not let nobody read it; after an exec it
                # is an ordinary process of nobody's.
                os.execv("/bin/sleep", ["sleep", "3600"])
            finally:
                os._exit(0)
        self.children.append(pid)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                if os.stat("/proc/%d" % pid).st_uid == 65534:
                    break
            except OSError:
                pass
            time.sleep(0.01)
        self.variables[step.get("saveAs", "nobodyPid")] = pid

    def reap_children(self):
        import signal
        for pid in self.children:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
        self.children = []

    def unmap_files(self):
        for m, f, path in self.mapped:
            m.close()
            f.close()
            if os.path.exists(path):
                os.unlink(path)
        self.mapped = []

    # -- running as another user
    def run_as(self, step):
        who = step["as"]
        if who != "nobody":
            raise StepFailure("unknown user %r (only \"nobody\")" % who)
        if os.getuid() != 0:
            raise StepSkipped("runner is not root, cannot become nobody")
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            out = {"ok": True}
            try:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
                self.conns = {}
                self.variables["uid"], self.variables["gid"] = 65534, 65534
                try:
                    c = Conn(self.socket_path)
                except OSError as e:
                    raise StepSkipped("nobody cannot connect to %s (%s): start memd with --socket-mode 0666 "
                                      "for the access tests" % (self.socket_path, e.strerror))
                self.conns["main"] = c
                s = dict(step)
                s.pop("as")
                s.pop("conn", None)
                saved_before = dict(self.variables)
                self.run_step(s)
                out["variables"] = {k: v for k, v in self.variables.items() if saved_before.get(k, None) != v}
            except StepSkipped as e:
                out = {"skip": str(e)}
            except StepFailure as e:
                out = {"ok": False, "reason": str(e)}
            except Closed as e:
                out = {"ok": False, "reason": "connection closed: %s" % e}
            except socket.timeout:
                out = {"ok": False, "reason": "no reply in time"}
            except BaseException as e:
                out = {"ok": False, "reason": "runner error: %s: %s" % (type(e).__name__, e)}
            try:
                os.write(w, json.dumps(out).encode())
            finally:
                os._exit(0)
        os.close(w)
        chunks = []
        while True:
            b = os.read(r, 65536)
            if not b:
                break
            chunks.append(b)
        os.close(r)
        os.waitpid(pid, 0)
        try:
            out = json.loads(b"".join(chunks) or b"{}")
        except ValueError:
            out = {}
        if "skip" in out:
            raise StepSkipped(out["skip"])
        if not out.get("ok"):
            raise StepFailure(out.get("reason", "child as nobody died"))
        self.variables.update(out.get("variables", {}))

    # -- one step
    def run_step(self, step):
        timeout = step.get("timeoutMs", 30000) / 1000.0
        expect = step.get("expect", {})
        if "mapFile" in step:
            self.map_file(step)
            return
        if "spawn" in step:
            self.spawn_sleeper(step)
            return
        if "sleepMs" in step:
            time.sleep(step["sleepMs"] / 1000.0)
            if len(step) == 1 or set(step) <= {"sleepMs", "name", "comment"}:
                return
        cname = step.get("conn", "main")
        conn = self.conn(cname, fresh=bool(step.get("reconnect")))
        conn.notifications = [] if not step.get("keepNotifications") else conn.notifications
        deadline = time.monotonic() + timeout

        if "await" in step:
            rid = self.var(step["await"])
            resp = self.wait_id(conn, rid, deadline)
            method = self.variables.get("__method_of_" + step["await"])
            self.check_response(resp, expect, method, rid)
            self.after(step, conn, resp, deadline)
            return
        if "waitNotification" in step:
            want = step["waitNotification"]
            while True:
                got = [n for n in conn.notifications if n.get("method") == want]
                if got:
                    break
                answered = [k for k in self.started if k in conn.pending]
                if answered:
                    r = conn.pending[answered[0]][0]
                    raise StepFailure("a started request was answered before any %s notification: %s" % (
                        want, _short(r.get("error", r.get("result")), 200)))
                conn.file(conn.read(deadline))
            self.check_notifications(conn, expect)
            return
        if "method" in step or "start" in step:
            method = step.get("method", step.get("start"))
            msg = {"jsonrpc": "2.0", "method": method}
            if "params" in step:
                msg["params"] = self.subst(step["params"])
            notification = bool(step.get("notification"))
            rid = None
            if not notification:
                rid = self.subst(step["id"]) if "id" in step else self.new_id()
                msg["id"] = rid
                self.variables["requestId"] = rid
            for k, v in step.get("extraMembers", {}).items():
                msg[k] = v
            conn.send(_line(msg))
            if "start" in step:
                name = step.get("saveId", "lastId")
                self.variables[name] = rid
                self.variables["__method_of_" + name] = method
                self.started.add(_idkey(rid))
                return
            if notification or expect.get("noReply"):
                self.expect_quiet(conn, step, deadline)
                self.after(step, conn, None, deadline)
                return
            resp = self.wait_id(conn, rid, deadline)
            self.check_response(resp, expect, method, rid)
            self.after(step, conn, resp, deadline)
            return
        # raw text, oversize lines and batches: the reply is whatever comes next
        if "raw" in step:
            data = self.subst(step["raw"]).encode("utf-8")
            if step.get("newline", True):
                data += b"\n"
            conn.send(data)
            methods = {}
        elif "rawHex" in step:
            conn.send(bytes.fromhex(step["rawHex"]) + (b"\n" if step.get("newline", True) else b""))
            methods = {}
        elif "oversize" in step:
            n = int(step["oversize"])
            head = b'{"jsonrpc":"2.0","id":1,"method":"meminfo","params":{"pad":"'
            tail = b'"}}'
            data = head + b"x" * max(0, n - len(head) - len(tail)) + tail + b"\n"
            try:
                conn.send(data)
            except Closed:
                pass  # the server may close before it read all of it; the reply may still be there
            methods = {}
        elif "batch" in step or "batchRepeat" in step:
            if "batch" in step:
                items = step["batch"]
            else:
                rep = step["batchRepeat"]
                items = [rep["item"]] * int(rep["count"])
            arr, methods = [], {}
            for it in items:
                if "value" in it:
                    arr.append(self.subst(it["value"]))
                    continue
                m = {"jsonrpc": "2.0", "method": it["method"]}
                if "params" in it:
                    m["params"] = self.subst(it["params"])
                if not it.get("notification"):
                    m["id"] = self.subst(it["id"]) if "id" in it else self.new_id()
                    methods[_idkey(m["id"])] = it["method"]
                arr.append(m)
            conn.send(_line(arr))
        else:
            raise StepFailure("step has nothing to send (method, start, await, raw, oversize, batch)")
        if expect.get("noReply"):
            self.expect_quiet(conn, step, deadline)
            self.after(step, conn, None, deadline)
            return
        resp = self.next_reply(conn, deadline)
        if isinstance(resp, list):
            self.check_batch(resp, expect, methods)
        else:
            if expect.get("batchReply"):
                raise StepFailure("expected a batch (array) reply, got %s" % _short(resp))
            self.check_response(resp, expect, None, expect.get("id", _ANY))
        self.after(step, conn, resp, deadline)

    def after(self, step, conn, resp, deadline):
        expect = step.get("expect", {})
        if expect.get("closed"):
            try:
                while True:
                    m = conn.read(min(deadline, time.monotonic() + 5))
                    if not conn.file(m):
                        raise StepFailure("expected the server to close the connection, got %s" % _short(m))
            except Closed:
                pass
            except socket.timeout:
                raise StepFailure("expected the server to close the connection; it stayed open")
        self.check_notifications(conn, expect)
        for k in ("notCount",):
            pass
        save = step.get("save", {})
        if save:
            if not isinstance(resp, dict) or "result" not in resp:
                raise StepFailure("nothing to save from: %s" % _short(resp))
            for var, path in save.items():
                try:
                    self.variables[var] = SafeEval(resp["result"], self.variables).run(path)
                except EvalError as e:
                    raise StepFailure("save %s: %s" % (var, e))

    def expect_quiet(self, conn, step, deadline):
        quiet = step.get("expect", {}).get("quietMs", 500) / 1000.0
        end = min(deadline, time.monotonic() + quiet)
        try:
            while True:
                m = conn.read(end)
                if not conn.file(m) and not (isinstance(m, dict) and _idkey(m.get("id")) in self.started):
                    raise StepFailure("expected no reply, got %s" % _short(m))
        except socket.timeout:
            pass

    def wait_id(self, conn, rid, deadline):
        key = _idkey(rid)
        while True:
            m = conn.take(key)
            if m is not None:
                return m
            conn.file(conn.read(deadline))

    def next_reply(self, conn, deadline):
        while True:
            if conn.batches:
                return conn.batches.pop(0)
            for key in list(conn.pending):
                return conn.take(key)
            conn.file(conn.read(deadline))

    # -- checks
