"""memd client: JSON-RPC 2.0 over a Unix stream socket, newline-delimited JSON.

Standard library only. A synchronous :class:`Client` and an asyncio
:class:`AsyncClient`; every error response becomes a typed exception, a
subclass of :class:`MemdError` chosen by the JSON-RPC error code.

    from memd_client import Client, ProcessNotFound
    with Client() as c:                       # socket path: see resolve_socket_path
        info = c.call("meminfo")
        try:
            c.call("maps", pid=999999)
        except ProcessNotFound as e:
            print(e.code, e.kind, e.message, e.data)
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import select
import socket
import stat
import struct
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

__all__ = [
    "resolve_socket_path", "Client", "AsyncClient", "BatchCall", "MemdError", "ConnectionClosed",
    "ParseError", "InvalidRequest", "MethodNotFound", "InvalidParams", "InternalError",
    "ProcessNotFound", "PermissionDenied", "ResourceLimit", "Unsupported", "SimNotFound", "Timeout",
    "error_from_response",
]

DEFAULT_MAX_LINE = 512 * 1024 * 1024  # responses (maps with detail, traces) can be large


# ---------------------------------------------------------------- errors

class MemdError(Exception):
    """An error response of the server: ``code``, ``kind`` (``error.data.kind``), ``message``, ``data``."""

    code: int = 0
    default_kind: str = ""

    def __init__(self, code: int, message: str, data: Any = None, kind: Optional[str] = None):
        self.code = code
        self.message = message
        self.data = data
        if kind is None and isinstance(data, dict) and isinstance(data.get("kind"), str):
            kind = data["kind"]
        self.kind = kind if kind is not None else self.default_kind
        super().__init__(f"error {code} {self.kind}: {message}")


class ParseError(MemdError):
    code, default_kind = -32700, "parseError"


class InvalidRequest(MemdError):
    code, default_kind = -32600, "invalidRequest"


class MethodNotFound(MemdError):
    code, default_kind = -32601, "methodNotFound"


class InvalidParams(MemdError):
    code, default_kind = -32602, "invalidParams"


class InternalError(MemdError):
    code, default_kind = -32603, "internal"


class ProcessNotFound(MemdError):
    code, default_kind = -32001, "processNotFound"


class PermissionDenied(MemdError):
    code, default_kind = -32002, "permissionDenied"


class ResourceLimit(MemdError):
    code, default_kind = -32003, "resourceLimit"


class Unsupported(MemdError):
    code, default_kind = -32004, "unsupported"


class SimNotFound(MemdError):
    code, default_kind = -32005, "simNotFound"


class Timeout(MemdError):
    code, default_kind = -32006, "timeout"


class ConnectionClosed(ConnectionError):
    """The server closed the connection (or it broke) before the awaited reply came."""


ERRORS_BY_CODE: Dict[int, type] = {
    cls.code: cls
    for cls in (ParseError, InvalidRequest, MethodNotFound, InvalidParams, InternalError, ProcessNotFound,
                PermissionDenied, ResourceLimit, Unsupported, SimNotFound, Timeout)
}


def error_from_response(error: Any) -> MemdError:
    """The typed exception for a response's ``error`` member."""
    if not isinstance(error, dict):
        return InternalError(-32603, f"malformed error member: {error!r}")
    code = error.get("code")
    message = error.get("message")
    data = error.get("data")
    if not isinstance(code, int) or isinstance(code, bool):
        return InternalError(-32603, f"malformed error code: {code!r}", data)
    if not isinstance(message, str):
        message = repr(message)
    cls = ERRORS_BY_CODE.get(code, MemdError)
    return cls(code, message, data)


# ---------------------------------------------------------------- socket path

SYSTEM_SOCKET = "/run/memd.sock"


def resolve_socket_path(explicit: Optional[str] = None, env: Optional[Dict[str, str]] = None) -> str:
    """The socket path, first that applies: explicit, $MEMD_SOCKET, $XDG_RUNTIME_DIR/memd.sock,
    /run/memd.sock for root, /tmp/memd-UID.sock for anyone else; a client that is not root and
    finds no socket at its own path uses /run/memd.sock (the host's system-wide memd)."""
    env = os.environ if env is None else env
    if explicit:
        return explicit
    if env.get("MEMD_SOCKET"):
        return env["MEMD_SOCKET"]
    if env.get("XDG_RUNTIME_DIR"):
        own = os.path.join(env["XDG_RUNTIME_DIR"], "memd.sock")
    elif os.getuid() == 0:
        return SYSTEM_SOCKET
    else:
        own = f"/tmp/memd-{os.getuid()}.sock"
    if os.getuid() != 0 and not _is_socket(own) and _is_socket(SYSTEM_SOCKET):
        return SYSTEM_SOCKET
    return own


def _is_socket(path: str) -> bool:
    try:
        return stat.S_ISSOCK(os.lstat(path).st_mode)
    except OSError:
        return False


class UntrustedServer(ConnectionError):
    """The server is neither root nor this user (SO_PEERCRED): nothing is sent to it."""


def check_server(sock: socket.socket, path: str) -> None:
    """Refuses a server that is neither root nor this user, as the kernel reports it (SO_PEERCRED)."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    if uid != 0 and uid != os.geteuid():
        raise UntrustedServer(f"the server at {path} runs as uid {uid}, not root or you")


def _request(method: str, params: Optional[Dict[str, Any]], id_: Any = None, notification: bool = False) -> dict:
    msg: Dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        msg["params"] = params
    if not notification:
        msg["id"] = id_
    return msg


def _encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


class BatchCall:
    """One entry of :meth:`Client.batch`: a call, or a notification when ``notification`` is true."""

    def __init__(self, method: str, params: Optional[Dict[str, Any]] = None, notification: bool = False):
        self.method, self.params, self.notification = method, params, notification


BatchEntry = Union[BatchCall, tuple, dict]


def _batch_entry(entry: BatchEntry) -> BatchCall:
    if isinstance(entry, BatchCall):
        return entry
    if isinstance(entry, tuple):
        return BatchCall(*entry)
    if isinstance(entry, dict):
        return BatchCall(entry["method"], entry.get("params"), bool(entry.get("notification", False)))
    raise TypeError(f"batch entry must be BatchCall, (method, params) or dict, not {type(entry).__name__}")


# ---------------------------------------------------------------- synchronous client

class Client:
    """A synchronous connection to memd.

    ``on_notification(method, params)`` is called for every notification the
    server sends while this client waits for a reply (e.g. ``experiment.progress``).
    Responses to other ids that arrive meanwhile are kept until asked for.
    """

    def __init__(self, path: Optional[str] = None, timeout: Optional[float] = None,
                 on_notification: Optional[Callable[[str, Any], None]] = None,
                 max_line: int = DEFAULT_MAX_LINE, connect: bool = True):
        self.path = resolve_socket_path(path)
        self.timeout = timeout
        self.on_notification = on_notification
        self.max_line = max_line
        self.sock: Optional[socket.socket] = None
        self._buf = bytearray()
        self._ids = itertools.count(1)
        self._pending: Dict[Any, dict] = {}
        self._batches: List[list] = []
        self.notifications: List[dict] = []  # every notification received, in order
        if connect:
            self.connect()

    # -- connection
    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.path)
            check_server(s, self.path)
        except OSError:
            s.close()
            raise
        self.sock = s
        self._buf.clear()

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- wire
    def send_raw(self, data: Union[bytes, str]) -> None:
        """Send bytes as they are (no newline added): for tests of malformed input."""
        if self.sock is None:
            raise ConnectionClosed("not connected")
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.sendall(data)

    def send(self, message: Any) -> None:
        """Send one JSON text (a request, notification or batch) as one line."""
        self.send_raw(_encode(message))

    def read_message(self, timeout: Optional[float] = -1.0) -> Any:
        """The next JSON text from the server. ``timeout`` None waits forever; -1 uses the client's timeout.

        Raises socket.timeout when nothing complete arrived in time, ConnectionClosed at EOF.
        """
        if timeout is not None and timeout < 0:
            timeout = self.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            nl = self._buf.find(b"\n")
            while nl >= 0:
                line = bytes(self._buf[:nl])
                del self._buf[:nl + 1]
                if line.endswith(b"\r"):
                    line = line[:-1]
                if line.strip():
                    return json.loads(line.decode("utf-8"))
                nl = self._buf.find(b"\n")
            if len(self._buf) > self.max_line:
                raise ConnectionClosed(f"response line longer than {self.max_line} bytes")
            if self.sock is None:
                raise ConnectionClosed("not connected")
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout("no reply in time")
                ready, _, _ = select.select([self.sock], [], [], left)
                if not ready:
                    raise socket.timeout("no reply in time")
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionClosed("connection closed by server")
            self._buf += chunk

    def _dispatch(self, msg: Any) -> None:
        """File a message that is not the one being waited for."""
        if isinstance(msg, list):
            self._batches.append(msg)
        elif isinstance(msg, dict) and "method" in msg and "id" not in msg:
            self.notifications.append(msg)
            if self.on_notification is not None:
                self.on_notification(msg["method"], msg.get("params"))
        elif isinstance(msg, dict) and "id" in msg:
            self._pending[_idkey(msg["id"])] = msg
        # anything else is not JSON-RPC; ignore it

    # -- calls
    def start(self, method: str, params: Optional[Dict[str, Any]] = None, id: Any = None) -> Any:
        """Send a request without waiting; returns its id (for :meth:`wait` and :meth:`cancel`)."""
        if id is None:
            id = next(self._ids)
        self.send(_request(method, params, id))
        return id

    def wait_response(self, id: Any, timeout: Optional[float] = -1.0) -> dict:
        """The whole response object for ``id``."""
        key = _idkey(id)
        while key not in self._pending:
            self._dispatch(self.read_message(timeout))
        return self._pending.pop(key)

    def wait(self, id: Any, timeout: Optional[float] = -1.0) -> Any:
        """The result for ``id``, or raise its typed error."""
        resp = self.wait_response(id, timeout)
        if "error" in resp:
            raise error_from_response(resp["error"])
        return resp.get("result")

    def call(self, method: str, params: Optional[Dict[str, Any]] = None, /, **kwargs: Any) -> Any:
        """Call ``method`` with named params (a dict, keyword arguments, or both) and return its result."""
        merged = dict(params or {})
        merged.update(kwargs)
        return self.wait(self.start(method, merged if (params is not None or kwargs) else None))

    def notify(self, method: str, params: Optional[Dict[str, Any]] = None, /, **kwargs: Any) -> None:
        """Send a notification (never answered)."""
        merged = dict(params or {})
        merged.update(kwargs)
        self.send(_request(method, merged if (params is not None or kwargs) else None, notification=True))

    def cancel(self, id: Any) -> None:
        """Ask the server to cancel the call ``id`` (``$/cancelRequest``); that call then fails with Timeout."""
        self.notify("$/cancelRequest", id=id)

    def batch(self, entries: Iterable[BatchEntry], timeout: Optional[float] = -1.0) -> List[Any]:
        """Send a batch; return one item per non-notification entry, in order: the result, or the exception.

        A batch of only notifications returns [] at once (the server sends nothing). A batch the
        server rejects as a whole (e.g. too many entries) raises that error.
        """
        calls = [_batch_entry(e) for e in entries]
        if not calls:
            raise ValueError("an empty batch is invalid JSON-RPC; use send('[]') to test it")
        msgs, ids = [], []
        for c in calls:
            if c.notification:
                msgs.append(_request(c.method, c.params, notification=True))
            else:
                i = next(self._ids)
                ids.append(i)
                msgs.append(_request(c.method, c.params, i))
        self.send(msgs)
        if not ids:
            return []
        wanted = {_idkey(i) for i in ids}
        while True:
            for n, b in enumerate(self._batches):
                got = {_idkey(r.get("id")) for r in b if isinstance(r, dict)}
                if got & wanted:
                    del self._batches[n]
                    by_id = {_idkey(r.get("id")): r for r in b if isinstance(r, dict)}
                    out: List[Any] = []
                    for i in ids:
                        r = by_id.get(_idkey(i))
                        if r is None:
                            out.append(InternalError(-32603, f"no response for id {i} in batch"))
                        elif "error" in r:
                            out.append(error_from_response(r["error"]))
                        else:
                            out.append(r.get("result"))
                    return out
            # a whole-batch rejection comes back as a single error with id null
            if _idkey(None) in self._pending:
                raise error_from_response(self._pending.pop(_idkey(None)).get("error"))
            self._dispatch(self.read_message(timeout))


def _idkey(id_: Any) -> Any:
    # 1 and 1.0 are the same JSON number; "1" is not; bool is not a valid id but must not equal 1.
    return (type(id_).__name__ if not isinstance(id_, (int, float)) or isinstance(id_, bool) else "num", id_)


# ---------------------------------------------------------------- asyncio client

class AsyncClient:
    """The asyncio variant: many calls in flight on one connection, matched by id."""

    def __init__(self, path: Optional[str] = None,
                 on_notification: Optional[Callable[[str, Any], None]] = None,
                 max_line: int = DEFAULT_MAX_LINE):
        self.path = resolve_socket_path(path)
        self.on_notification = on_notification
        self.max_line = max_line
        self._ids = itertools.count(1)
        self._futures: Dict[Any, asyncio.Future] = {}
        self._reader: Optional[asyncio.StreamReader] = None
        self._writer: Optional[asyncio.StreamWriter] = None
        self._task: Optional[asyncio.Task] = None
        self._open_batches: List[List[Any]] = []

    async def connect(self) -> "AsyncClient":
        self._reader, self._writer = await asyncio.open_unix_connection(self.path, limit=self.max_line)
        try:
            check_server(self._writer.get_extra_info("socket"), self.path)
        except OSError:
            self._writer.close()
            raise
        self._task = asyncio.get_running_loop().create_task(self._read_loop())
        return self

    async def __aenter__(self) -> "AsyncClient":
        return await self.connect()

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        self._fail_all(ConnectionClosed("client closed"))

    def _fail_all(self, exc: BaseException) -> None:
        for f in self._futures.values():
            if not f.done():
                f.set_exception(exc)
        self._futures.clear()

    async def _read_loop(self) -> None:
        assert self._reader is not None
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                line = line.rstrip(b"\r\n")
                if not line.strip():
                    continue
                msg = json.loads(line)
                for m in (msg if isinstance(msg, list) else [msg]):
                    self._deliver(m)
        except (asyncio.CancelledError, GeneratorExit):
            raise
        except Exception as e:  # broken line, reset connection
            self._fail_all(ConnectionClosed(str(e)))
            return
        self._fail_all(ConnectionClosed("connection closed by server"))

    def _deliver(self, m: Any) -> None:
        if not isinstance(m, dict):
            return
        if "method" in m and "id" not in m:
            if self.on_notification is not None:
                self.on_notification(m["method"], m.get("params"))
            return
        f = self._futures.pop(_idkey(m.get("id")), None)
        if f is None and m.get("id") is None and "error" in m:
            # a batch rejected as a whole (e.g. too many entries): fail the oldest open batch
            while self._open_batches:
                keys = self._open_batches.pop(0)
                futs = [self._futures.pop(k) for k in keys if k in self._futures]
                if futs:
                    for bf in futs:
                        if not bf.done():
                            bf.set_exception(error_from_response(m["error"]))
                    return
            return
        if f is None or f.done():
            return
        if "error" in m:
            f.set_exception(error_from_response(m["error"]))
        else:
            f.set_result(m.get("result"))

    async def _send(self, obj: Any) -> None:
        if self._writer is None:
            raise ConnectionClosed("not connected")
        self._writer.write(_encode(obj))
        await self._writer.drain()

    async def call(self, method: str, params: Optional[Dict[str, Any]] = None, /, **kwargs: Any) -> Any:
        merged = dict(params or {})
        merged.update(kwargs)
        id_ = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._futures[_idkey(id_)] = fut
        try:
            await self._send(_request(method, merged if (params is not None or kwargs) else None, id_))
            return await fut
        except asyncio.CancelledError:
            # a cancelled await cancels the server-side call too
            self._futures.pop(_idkey(id_), None)
            try:
                await self.notify("$/cancelRequest", id=id_)
            except Exception:
                pass
            raise

    async def notify(self, method: str, params: Optional[Dict[str, Any]] = None, /, **kwargs: Any) -> None:
        merged = dict(params or {})
        merged.update(kwargs)
        await self._send(_request(method, merged if (params is not None or kwargs) else None, notification=True))

    async def batch(self, entries: Iterable[BatchEntry]) -> List[Any]:
        calls = [_batch_entry(e) for e in entries]
        if not calls:
            raise ValueError("an empty batch is invalid JSON-RPC")
        loop = asyncio.get_running_loop()
        msgs, futs = [], []
        for c in calls:
            if c.notification:
                msgs.append(_request(c.method, c.params, notification=True))
            else:
                i = next(self._ids)
                f = loop.create_future()
                self._futures[_idkey(i)] = f
                futs.append(f)
                msgs.append(_request(c.method, c.params, i))
        self._open_batches.append([k for k, f in self._futures.items() if f in futs])
        await self._send(msgs)
        return list(await asyncio.gather(*futs, return_exceptions=True))
