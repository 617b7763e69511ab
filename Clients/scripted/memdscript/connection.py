"""The connection to memd: which socket, whether its server is trusted, lines in and out."""

import json
import os
import select
import socket
import stat
import struct
import time

from .common import StepFailure, _loads, _number_text, _short

SYSTEM_SOCKET = "/run/memd.sock"


def _is_socket(path):
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except OSError:
        return False


def resolve_socket_path(explicit=None):
    if explicit:
        return explicit
    if os.environ.get("MEMD_SOCKET"):
        return os.environ["MEMD_SOCKET"]
    if os.environ.get("XDG_RUNTIME_DIR"):
        own = os.path.join(os.environ["XDG_RUNTIME_DIR"], "memd.sock")
    elif os.getuid() == 0:
        return SYSTEM_SOCKET
    else:
        own = "/tmp/memd-%d.sock" % os.getuid()
    # Not root and no socket at its own path: the host's system-wide memd.
    if os.getuid() != 0 and not _is_socket(own) and _is_socket(SYSTEM_SOCKET):
        return SYSTEM_SOCKET
    return own


class UntrustedServer(OSError):
    pass


def check_server(sock, path):
    """Refuses a server that is neither root nor this user (SO_PEERCRED)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    uid = struct.unpack("3i", creds)[1]
    if uid != 0 and uid != os.geteuid():
        raise UntrustedServer("the server at %s runs as uid %d, not root or you" % (path, uid))


class Closed(Exception):
    pass


def _idkey(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return (type(v).__name__, v)
    return ("num", _number_text(v))


class Conn:
    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(path)
            check_server(self.sock, path)
        except OSError:
            self.sock.close()
            raise
        self.buf = bytearray()
        self.closed = False
        self.pending = {}           # id key -> response that nobody has awaited yet
        self.batches = []           # array replies not yet claimed
        self.notifications = []     # notifications not yet looked at

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
        self.closed = True

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            self.closed = True
            raise Closed("send failed: %s" % e)

    def read(self, deadline):
        """The next message (parsed JSON); raises socket.timeout or Closed."""
        while True:
            nl = self.buf.find(b"\n")
            while nl >= 0:
                line = bytes(self.buf[:nl]).rstrip(b"\r")
                del self.buf[:nl + 1]
                if line.strip():
                    try:
                        return _loads(line.decode("utf-8"))
                    except (ValueError, UnicodeDecodeError) as e:
                        raise StepFailure("server sent a line that is not JSON (%s): %s" % (e, _short(
                            line.decode("utf-8", "replace"))))
                nl = self.buf.find(b"\n")
            if self.closed:
                raise Closed("connection closed")
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout()
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                raise socket.timeout()
            try:
                chunk = self.sock.recv(1 << 16)
            except (ConnectionResetError, OSError):
                chunk = b""
            if not chunk:
                self.closed = True
                if self.buf.strip():
                    raise StepFailure("connection closed in the middle of a line")
                raise Closed("connection closed by server")
            self.buf += chunk

    def file(self, msg):
        """Keep a message for whoever waits for it. Returns True if it was a notification."""
        if isinstance(msg, list):
            self.batches.append(msg)
        elif isinstance(msg, dict) and "id" not in msg and "method" in msg:
            self.notifications.append(msg)
            return True
        elif isinstance(msg, dict):
            self.pending.setdefault(_idkey(msg.get("id")), []).append(msg)
        return False

    def take(self, key):
        lst = self.pending.get(key)
        if lst:
            m = lst.pop(0)
            if not lst:
                del self.pending[key]
            return m
        return None
