"""Shared by the lab's tests: a real memd and a real `memctl web` on a temporary
socket and a free port, and a plain JSON-RPC client of memd's socket."""

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse


class Memd:
    """A JSON-RPC client of memd's Unix socket (one line per message)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.buffer = b""
        self.next_id = 1

    def call(self, method, params=None):
        request = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        self.next_id += 1
        if params is not None:
            request["params"] = params
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        while True:
            while b"\n" not in self.buffer:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise RuntimeError("memd closed the connection")
                self.buffer += chunk
            line, self.buffer = self.buffer.split(b"\n", 1)
            message = json.loads(line)
            if message.get("id") == request["id"]:
                if "error" in message:
                    raise RuntimeError(message["error"])
                return message["result"]

    def close(self):
        self.sock.close()


class Lab:
    """memd and memctl web, started for one test run and stopped at its end."""

    def __init__(self, bin_dir, web_uid=None):
        """web_uid: run memctl web as that user (setpriv), memd's socket open to all (0666)."""
        self.dir = tempfile.mkdtemp(prefix="memd-web-")
        self.socket_path = os.path.join(self.dir, "memd.sock")
        self.bin_dir = bin_dir
        self.logs = []
        self.memd_arguments = []
        web = [os.path.join(bin_dir, "memctl"), "web", "--listen", "127.0.0.1:0", "--socket", self.socket_path]
        if web_uid is not None:
            os.chmod(self.dir, 0o755)
            self.memd_arguments = ["--socket-mode", "0666"]
            web = ["setpriv", f"--reuid={web_uid}", f"--regid={web_uid}", "--clear-groups"] + web
        self.start_memd()
        self.web = subprocess.Popen(
            web,
            stdout=subprocess.PIPE,
            stderr=self.log("web.log"),
            text=True,
        )
        line = self.web.stdout.readline()
        match = re.match(r"memd lab: (http://([^/]+)/\?token=([0-9a-f]{32}))$", line.strip())
        if not match:
            self.stop()
            raise RuntimeError(f"memctl web printed {line!r}")
        self.url, self.host, self.token = match.groups()
        self.port = int(self.host.rsplit(":", 1)[1])
        self.cookie = f"memd-lab-{self.port}={self.token}"

    def log(self, name):
        """A log file in the run's directory, closed by stop()."""
        file = open(os.path.join(self.dir, name), "a")
        self.logs.append(file)
        return file

    def start_memd(self):
        self.memd = subprocess.Popen(
            [os.path.join(self.bin_dir, "memd"), "--socket", self.socket_path, "--log-level", "warning"]
            + self.memd_arguments,
            stderr=self.log("memd.log"),
        )
        for _ in range(200):
            if os.path.exists(self.socket_path):
                break
            time.sleep(0.05)

    def restart_memd(self):
        """memd again on the same socket (after the test stopped it)."""
        self.start_memd()

    def client(self):
        return Memd(self.socket_path)

    def stop(self):
        for process in (getattr(self, "web", None), self.memd):
            if process and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if getattr(self, "web", None):
            self.web.stdout.close()
        for file in self.logs:
            file.close()


def bin_dir():
    """The built binaries: $MEMD_BIN_DIR (scripts/test sets it), else .build/debug."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.environ.get("MEMD_BIN_DIR") or os.path.join(root, ".build", "debug")


def query_token(url):
    return urllib.parse.parse_qs(urllib.parse.urlparse(url).query)["token"][0]
