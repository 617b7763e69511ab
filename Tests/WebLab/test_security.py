"""memctl web's door, over plain HTTP and raw WebSockets (web.md §1, §3):
token, Host, Origin, methods, head limits, 16 WebSockets, the bridge itself,
and the weight of a first load. Standard library only."""

import base64
import http.client
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lab import Lab, bin_dir  # noqa: E402

LAB = None


def setUpModule():
    global LAB
    LAB = Lab(bin_dir())


def tearDownModule():
    LAB.stop()


def request(method, path, headers=None, host=None):
    """One request on a new connection; Host as given (the default is the lab's own)."""
    connection = http.client.HTTPConnection("127.0.0.1", LAB.port, timeout=10)
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    connection.putheader("Host", host or LAB.host)
    for name, value in (headers or {}).items():
        connection.putheader(name, value)
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def upgrade(key="dGhlIHNhbXBsZSBub25jZQ==", origin=None, cookie=True, host=None):
    """A WebSocket handshake on a raw socket: (status line, headers, socket)."""
    sock = socket.create_connection(("127.0.0.1", LAB.port), timeout=10)
    lines = [
        "GET /rpc HTTP/1.1",
        f"Host: {host or LAB.host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        f"Origin: {origin or 'http://' + LAB.host}",
    ]
    if cookie:
        lines.append(f"Cookie: {LAB.cookie}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    text = head.split(b"\r\n\r\n", 1)[0].decode()
    status, *rest = text.split("\r\n") if text else [""]
    headers = {line.split(":", 1)[0].lower(): line.split(":", 1)[1].strip() for line in rest if ":" in line}
    return status, headers, sock


def send_text(sock, text):
    payload = text.encode()
    mask = os.urandom(4)
    header = bytes([0x81])
    if len(payload) < 126:
        header += bytes([0x80 | len(payload)])
    elif len(payload) < 65536:
        header += bytes([0x80 | 126]) + struct.pack(">H", len(payload))
    else:
        header += bytes([0x80 | 127]) + struct.pack(">Q", len(payload))
    sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def read_frame(sock):
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data

    first, second = exactly(2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack(">H", exactly(2))[0]
    elif length == 127:
        length = struct.unpack(">Q", exactly(8))[0]
    return first & 0x0F, exactly(length)


class Token(unittest.TestCase):
    def test_the_printed_url_has_a_128_bit_token(self):
        self.assertRegex(LAB.token, r"^[0-9a-f]{32}$")

    def test_no_token_is_403_and_nothing_is_served(self):
        for path in ["/", "/index.html", "/js/main.js", "/vendor/uPlot/uPlot.iife.min.js", "/rpc", "/nothing"]:
            response, body = request("GET", path)
            self.assertEqual(response.status, 403, path)
            self.assertNotIn(b"<html", body)
            self.assertNotIn(b"uPlot", body)

    def test_a_prefix_of_the_token_is_403(self):
        for guess in [LAB.token[:-1], LAB.token[:16], LAB.token + "0", LAB.token.upper()]:
            response, _ = request("GET", f"/?token={guess}")
            self.assertEqual(response.status, 403, guess)
            response, _ = request("GET", "/", {"Cookie": f"memd-lab-{LAB.port}={guess}"})
            self.assertEqual(response.status, 403, guess)

    def test_the_query_token_becomes_an_httponly_samesite_cookie(self):
        response, _ = request("GET", f"/?token={LAB.token}")
        self.assertEqual(response.status, 303)
        self.assertEqual(response.getheader("Location"), "/")
        cookie = response.getheader("Set-Cookie")
        self.assertIn(LAB.cookie, cookie)
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=Strict", cookie)
        response, body = request("GET", "/", {"Cookie": LAB.cookie})
        self.assertEqual(response.status, 200)
        self.assertIn(b"<title>memd lab</title>", body)

    def test_a_bearer_token_is_accepted(self):
        response, _ = request("GET", "/", {"Authorization": f"Bearer {LAB.token}"})
        self.assertEqual(response.status, 200)


class HostAndMethods(unittest.TestCase):
    def test_a_wrong_host_is_403(self):
        for host in ["evil.example", f"evil.example:{LAB.port}", f"127.0.0.1:{LAB.port + 1}", "127.0.0.1"]:
            response, body = request("GET", "/", {"Cookie": LAB.cookie}, host=host)
            self.assertEqual(response.status, 403, host)
            self.assertNotIn(b"<html", body)

    def test_localhost_names_a_loopback_lab(self):
        response, _ = request("GET", "/", {"Cookie": LAB.cookie}, host=f"localhost:{LAB.port}")
        self.assertEqual(response.status, 200)

    def test_only_get_and_head(self):
        for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]:
            response, _ = request(method, "/", {"Cookie": LAB.cookie, "Content-Length": "0"})
            self.assertEqual(response.status, 405, method)
        response, body = request("HEAD", "/", {"Cookie": LAB.cookie})
        self.assertEqual(response.status, 200)
        self.assertEqual(body, b"")
        self.assertGreater(int(response.getheader("Content-Length")), 0)

    def test_pages_forbid_other_origins_and_frames(self):
        response, _ = request("GET", "/", {"Cookie": LAB.cookie})
        policy = response.getheader("Content-Security-Policy")
        self.assertIn("default-src 'self'", policy)
        self.assertIn("frame-ancestors 'none'", policy)
        self.assertEqual(response.getheader("Referrer-Policy"), "no-referrer")


class Limits(unittest.TestCase):
    def test_a_head_over_16_kib_is_refused(self):
        sock = socket.create_connection(("127.0.0.1", LAB.port), timeout=10)
        head = f"GET / HTTP/1.1\r\nHost: {LAB.host}\r\nCookie: {LAB.cookie}\r\nX-Pad: {'a' * 17000}\r\n\r\n"
        try:
            sock.sendall(head.encode())
            answer = sock.recv(4096)
        except OSError:
            answer = b""
        sock.close()
        self.assertFalse(answer.startswith(b"HTTP/1.1 200"), answer[:40])

    def test_a_head_just_under_16_kib_is_served(self):
        head = f"GET / HTTP/1.1\r\nHost: {LAB.host}\r\nCookie: {LAB.cookie}\r\nX-Pad: {'a' * 15000}\r\n\r\n"
        sock = socket.create_connection(("127.0.0.1", LAB.port), timeout=10)
        sock.sendall(head.encode())
        self.assertTrue(sock.recv(4096).startswith(b"HTTP/1.1 200"))
        sock.close()

    def test_a_head_slower_than_10_s_is_cut(self):
        sock = socket.create_connection(("127.0.0.1", LAB.port), timeout=20)
        sock.sendall(f"GET / HTTP/1.1\r\nHost: {LAB.host}\r\n".encode())
        started = time.monotonic()
        answer = sock.recv(4096)  # nothing more is sent: the lab must close
        waited = time.monotonic() - started
        sock.close()
        self.assertEqual(answer, b"")
        self.assertGreater(waited, 8)
        self.assertLess(waited, 15)

    def test_at_most_16_websockets(self):
        sockets = []
        try:
            for _ in range(16):
                status, _, sock = upgrade()
                self.assertIn("101", status)
                sockets.append(sock)
            status, _, sock = upgrade()
            sock.close()
            self.assertIn("503", status)
            sockets.pop().close()
            for _ in range(50):
                status, _, sock = upgrade()
                sock.close()
                if "101" in status:
                    break
                time.sleep(0.05)
            self.assertIn("101", status)
        finally:
            for sock in sockets:
                sock.close()


class WebSocket(unittest.TestCase):
    def test_the_accept_key_is_rfc_6455s(self):
        status, headers, sock = upgrade(key="dGhlIHNhbXBsZSBub25jZQ==")
        sock.close()
        self.assertIn("101", status)
        self.assertEqual(headers["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

    def test_another_origin_is_refused(self):
        for origin in ["http://evil.example", f"http://127.0.0.1:{LAB.port + 1}", "null"]:
            status, _, sock = upgrade(origin=origin)
            sock.close()
            self.assertIn("403", status, origin)

    def test_no_cookie_is_refused(self):
        status, _, sock = upgrade(cookie=False)
        sock.close()
        self.assertIn("403", status)

    def test_one_message_per_frame_the_same_as_on_the_socket(self):
        status, _, sock = upgrade(key=base64.b64encode(os.urandom(16)).decode())
        self.assertIn("101", status)
        send_text(sock, json.dumps({"jsonrpc": "2.0", "id": 7, "method": "meminfo"}))
        opcode, payload = read_frame(sock)
        self.assertEqual(opcode, 1)
        answer = json.loads(payload)
        self.assertEqual(answer["id"], 7)
        client = LAB.client()
        direct = client.call("meminfo")
        client.close()
        self.assertEqual(answer["result"]["total"], direct["total"])
        # A notification comes through as its own frame: a watch's first sample.
        send_text(sock, json.dumps({"jsonrpc": "2.0", "id": 8, "method": "watch", "params": {"count": 1}}))
        methods = []
        while True:
            opcode, payload = read_frame(sock)
            message = json.loads(payload)
            if "method" in message:
                methods.append(message["method"])
            elif message.get("id") == 8:
                break
        self.assertEqual(methods, ["watch.sample"])
        sock.close()

    def test_pretty_json_with_newlines_is_one_message_and_big_answers_come_whole(self):
        status, _, sock = upgrade(key=base64.b64encode(os.urandom(16)).decode())
        self.assertIn("101", status)
        send_text(sock, json.dumps({"jsonrpc": "2.0", "id": 3, "method": "maps", "params": {"pid": LAB.memd.pid}}, indent=2))
        opcode, payload = read_frame(sock)
        sock.close()
        self.assertEqual(opcode, 1)
        answer = json.loads(payload)
        client = LAB.client()
        direct = client.call("maps", {"pid": LAB.memd.pid})
        client.close()
        self.assertEqual(answer["id"], 3)
        self.assertEqual(len(answer["result"]["mappings"]), len(direct["mappings"]))

    def test_a_message_over_1_mib_closes_the_websocket(self):
        status, _, sock = upgrade(key=base64.b64encode(os.urandom(16)).decode())
        self.assertIn("101", status)
        send_text(sock, json.dumps({"jsonrpc": "2.0", "id": 4, "method": "meminfo", "params": {"x": "a" * (1 << 20)}}))
        opcode, payload = read_frame(sock)
        sock.close()
        self.assertEqual(opcode, 8)  # a close frame: 1009, message too big
        self.assertEqual(struct.unpack(">H", payload[:2])[0], 1009)

    def test_memd_gone_closes_the_websocket_with_the_reason(self):
        other = Lab(bin_dir())
        try:
            global LAB
            saved, LAB = LAB, other
            try:
                status, _, sock = upgrade()
            finally:
                LAB = saved
            self.assertIn("101", status)
            send_text(sock, json.dumps({"jsonrpc": "2.0", "id": 1, "method": "rpc.discover"}))
            self.assertEqual(read_frame(sock)[0], 1)  # the bridge is connected to memd
            other.memd.terminate()
            other.memd.wait()
            opcode, payload = read_frame(sock)
            self.assertEqual(opcode, 8)
            code = struct.unpack(">H", payload[:2])[0]
            self.assertEqual(code, 1001)
            self.assertIn(b"memd", payload[2:])
            sock.close()
        finally:
            other.stop()


class Weight(unittest.TestCase):
    def test_the_first_load_is_at_most_300_kb_and_stays_on_the_host(self):
        total = 0
        pending = ["/"]
        seen = set()
        while pending:
            path = pending.pop()
            if path in seen:
                continue
            seen.add(path)
            response, body = request("GET", path, {"Cookie": LAB.cookie})
            self.assertEqual(response.status, 200, path)
            total += len(body)
            text = body.decode()
            base = path.rsplit("/", 1)[0] + "/"
            for reference in re.findall(r'(?:src|href)="([^"#]+)"|from "([^"]+)"', text):
                target = reference[0] or reference[1]
                self.assertFalse(re.match(r"^(https?:)?//", target), f"{path} loads {target} from elsewhere")
                if target.startswith("/"):
                    pending.append(target)
                else:
                    parts = (base + target).split("/")
                    resolved = []
                    for part in parts:
                        if part == "..":
                            resolved.pop()
                        elif part != ".":
                            resolved.append(part)
                    pending.append("/".join(resolved))
        print(f"\nfirst load: {len(seen)} files, {total} bytes", file=sys.stderr)
        self.assertIn("/favicon.svg", seen)
        self.assertLessEqual(total, 300_000)


class Listen(unittest.TestCase):
    def test_a_non_loopback_address_warns_that_there_is_no_tls(self):
        web = subprocess.Popen(
            [os.path.join(bin_dir(), "memctl"), "web", "--listen", "0.0.0.0:0", "--socket", LAB.socket_path],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = web.stdout.readline()
        web.terminate()
        _, errors = web.communicate(timeout=5)
        self.assertTrue(line.startswith("memd lab: http://0.0.0.0:"), line)
        self.assertIn("no TLS", errors)

    def test_loopback_gives_no_warning(self):
        with open(os.path.join(LAB.dir, "web.log")) as file:
            log = file.read()
        self.assertNotIn("warning", log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
