#!/usr/bin/env python3
"""Tests for fault_proxy.py: each fault, byte-exact pass-through, keep-alive, local-only upstreams.

Run: /usr/bin/python3 tests/tools/test_fault_proxy.py   (standard library only)
Set FAULT_PROXY_BIG=1 to also carry a 1 GiB body through the proxy.
"""

import hashlib
import http.client
import http.server
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PROXY = os.path.join(HERE, "fault_proxy.py")
MiB = 1 << 20
BLOCK = random.Random(20261128).randbytes(MiB)


def body_pieces(n, piece=MiB):
    """The deterministic body the upstream serves for /bytes/N, in pieces."""
    sent = 0
    while sent < n:
        k = min(piece, n - sent)
        start = sent % len(BLOCK)
        if start + k <= len(BLOCK):
            yield BLOCK[start:start + k]
        else:
            yield (BLOCK[start:] + BLOCK)[:k]
        sent += k


def body_bytes(n):
    return b"".join(body_pieces(n))


def body_sha256(n):
    h = hashlib.sha256()
    for p in body_pieces(n):
        h.update(p)
    return h.hexdigest()


class UpstreamHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, body_len=0):
        self.server.log.append((self.command, self.path, self.client_address[1], body_len))

    def do_HEAD(self):
        self.record()
        n = int(self.path.split("/")[-1]) if self.path.startswith("/bytes/") else 0
        self.send_response(200)
        self.send_header("Content-Length", str(n))
        self.end_headers()

    def do_GET(self):
        self.record()
        if self.path.startswith("/bytes/"):
            n = int(self.path.split("/")[-1])
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            for p in body_pieces(n):
                self.wfile.write(p)
        elif self.path.startswith("/chunked/"):
            n = int(self.path.split("/")[-1])
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for p in body_pieces(n, piece=1000):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(p), p))
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/empty":
            self.send_response(204)
            self.end_headers()
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def do_PUT(self):
        n = int(self.headers.get("Content-Length", "0"))
        h = hashlib.sha256()
        remaining = n
        while remaining:
            data = self.rfile.read(min(MiB, remaining))
            if not data:
                break
            h.update(data)
            remaining -= len(data)
        self.record(n - remaining)
        reply = json.dumps({"len": n - remaining, "sha256": h.hexdigest()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    do_POST = do_PUT

    def do_DELETE(self):
        self.record()
        self.send_response(204)
        self.end_headers()


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class Upstream:
    def __init__(self):
        self.server = QuietServer(("127.0.0.1", 0), UpstreamHandler)
        self.server.log = []
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def log(self):
        return list(self.server.log)

    def clear(self):
        self.server.log.clear()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def start_proxy(upstream_port, *extra):
    stderr = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(
        [sys.executable, PROXY, "--listen", "0", "--upstream", f"127.0.0.1:{upstream_port}",
         "--seed", "1", "--fault-rate", "0", "--verbose", "--exit-with-stdin", *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True)
    line = proc.stdout.readline()
    if "listening on 127.0.0.1:" not in line:
        proc.kill()
        stderr.seek(0)
        raise RuntimeError(f"proxy did not start: {line!r} {stderr.read()}")
    return proc, int(line.rsplit(":", 1)[1]), stderr


def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        if not piece:
            raise EOFError(f"closed inside the head: {data!r}")
        data += piece
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), headers, rest


def read_until_end(sock, already=b"", limit=None):
    """Reads until EOF, reset or `limit` bytes; returns (bytes, how it ended)."""
    data = bytearray(already)
    while limit is None or len(data) < limit:
        try:
            piece = sock.recv(MiB)
        except ConnectionResetError:
            return bytes(data), "reset"
        except socket.timeout:
            return bytes(data), "timeout"
        if not piece:
            return bytes(data), "eof"
        data.extend(piece)
    return bytes(data), "complete"


class FaultProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.upstream = Upstream()
        cls.proc, cls.port, cls.stderr = start_proxy(cls.upstream.port)

    @classmethod
    def tearDownClass(cls):
        cls.proc.terminate()
        cls.proc.wait(timeout=10)
        cls.proc.stdin.close()
        cls.proc.stdout.close()
        if os.environ.get("FAULT_PROXY_SHOW_LOG"):
            cls.stderr.seek(0)
            sys.stderr.write(cls.stderr.read())
        cls.stderr.close()
        cls.upstream.stop()

    def test_zz_proxy_logged_no_internal_errors(self):
        # Runs last in the class (unittest sorts by name); checks what the proxy printed so far.
        self.stderr.flush()
        self.stderr.seek(0)
        log = self.stderr.read()
        self.stderr.seek(0, os.SEEK_END)
        for bad in ("Traceback", "exception was never retrieved", "Error"):
            self.assertNotIn(bad, log)
        self.assertIn("fault_proxy: request", log)

    def setUp(self):
        self.configure(fault_rate=0, faults=["slowdown"], next=[], methods=None, path_regex=None,
                       body_offset=None, latency_ms=50, stall_seconds=30, seed=1)
        self.control("POST", "reset")
        self.upstream.clear()

    # --- helpers ---

    def control(self, method, name, obj=None):
        conn = self.http(timeout=10)
        body = json.dumps(obj).encode() if obj is not None else None
        conn.request(method, "/__fault_proxy__/" + name, body=body)
        resp = conn.getresponse()
        reply = json.loads(resp.read())
        conn.close()
        return resp.status, reply

    def configure(self, **settings):
        status, reply = self.control("POST", "config", settings)
        self.assertEqual(status, 200, reply)
        return reply

    def stats(self):
        return self.control("GET", "stats")[1]

    def connect(self, timeout=10):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        self.addCleanup(sock.close)
        return sock

    def http(self, timeout=10):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        self.addCleanup(conn.close)
        return conn

    def get_raw(self, path, timeout=10, method="GET"):
        sock = self.connect(timeout)
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        return sock

    def upstream_saw(self, method, path):
        return any(m == method and p == path for m, p, _, _ in self.upstream.log)

    # --- pass-through ---

    def test_64_mib_passes_through_unchanged_both_ways(self):
        n = 64 * MiB
        conn = self.http(timeout=60)
        conn.request("GET", f"/bytes/{n}")
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertEqual(int(resp.getheader("Content-Length")), n)
        h = hashlib.sha256()
        got = 0
        while True:
            piece = resp.read(MiB)
            if not piece:
                break
            h.update(piece)
            got += len(piece)
        self.assertEqual(got, n)
        self.assertEqual(h.hexdigest(), body_sha256(n))

        conn.request("PUT", "/upload", body=body_pieces(n),
                     headers={"Content-Length": str(n)}, encode_chunked=False)
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertEqual(json.loads(resp.read()), {"len": n, "sha256": body_sha256(n)})
        conn.close()
        # Streamed, not buffered: the proxy's peak memory stays well under one body.
        with open(f"/proc/{self.proc.pid}/status") as f:
            hwm_kib = int(next(l for l in f if l.startswith("VmHWM:")).split()[1])
        self.assertLess(hwm_kib, 48 * 1024, f"proxy peak RSS {hwm_kib} KiB")
        self.assertEqual(self.stats()["faults"], {})

    @unittest.skipUnless(os.environ.get("FAULT_PROXY_BIG"), "set FAULT_PROXY_BIG=1 for 1 GiB")
    def test_1_gib_passes_through(self):
        n = 1024 * MiB
        conn = self.http(timeout=120)
        conn.request("GET", f"/bytes/{n}")
        resp = conn.getresponse()
        h = hashlib.sha256()
        while piece := resp.read(4 * MiB):
            h.update(piece)
        self.assertEqual(h.hexdigest(), body_sha256(n))
        with open(f"/proc/{self.proc.pid}/status") as f:
            hwm_kib = int(next(l for l in f if l.startswith("VmHWM:")).split()[1])
        self.assertLess(hwm_kib, 64 * 1024)

    def test_chunked_response_passes_through(self):
        conn = self.http(timeout=10)
        conn.request("GET", "/chunked/123457")
        resp = conn.getresponse()
        self.assertEqual(resp.getheader("Transfer-Encoding"), "chunked")
        self.assertEqual(resp.read(), body_bytes(123457))
        conn.request("GET", "/bytes/10")  # same connection still framed correctly
        self.assertEqual(conn.getresponse().read(), body_bytes(10))
        conn.close()

    def test_keep_alive_on_both_sides(self):
        conn = self.http(timeout=10)
        conn.request("GET", "/bytes/1000")
        self.assertEqual(conn.getresponse().read(), body_bytes(1000))
        first_sock = conn.sock
        for i in range(4):
            conn.request("HEAD", "/bytes/5")
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.getheader("Content-Length"), "5")
            conn.request("PUT", f"/k{i}", body=b"x" * 1000)
            self.assertEqual(json.loads(conn.getresponse().read())["len"], 1000)
            conn.request("DELETE", f"/k{i}")
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()), (204, b""))
            conn.request("GET", "/empty")
            resp = conn.getresponse()
            self.assertEqual((resp.status, resp.read()), (204, b""))
        self.assertIs(conn.sock, first_sock)  # the client connection was never closed
        conn.close()
        log = self.upstream.log
        self.assertEqual(len(log), 17)
        self.assertEqual(len({port for _, _, port, _ in log}), 1, "one upstream connection")

    def test_expect_continue_passes_through(self):
        sock = self.connect()
        sock.sendall(b"PUT /expect HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        status, _, rest = read_head(sock)
        self.assertEqual(status, 100)
        sock.sendall(b"y" * 1000)
        status, headers, rest = read_head(sock) if not rest else self.parse_rest(sock, rest)
        self.assertEqual(status, 200)
        body, _ = read_until_end(sock, rest, int(headers["content-length"]))
        self.assertEqual(json.loads(body)["len"], 1000)
        sock.close()

    def parse_rest(self, sock, rest):
        class Pre:
            def __init__(self, data, s):
                self.data, self.s = data, s

            def recv(self, n):
                if self.data:
                    d, self.data = self.data, b""
                    return d
                return self.s.recv(n)
        return read_head(Pre(rest, sock))

    def test_concurrent_connections(self):
        results = []

        def worker(i):
            conn = self.http(timeout=30)
            for j in range(5):
                n = 10000 + 1000 * i + j
                conn.request("GET", f"/bytes/{n}")
                results.append(conn.getresponse().read() == body_bytes(n))
            conn.close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(results, [True] * 40)

    # --- faults before forwarding ---

    def check_error_fault(self, fault, status, code):
        self.configure(next=[fault])
        conn = self.http(timeout=10)
        conn.request("PUT", "/faulted", body=b"z" * 300000)
        resp = conn.getresponse()
        body = resp.read()
        self.assertEqual(resp.status, status)
        self.assertIn(f"<Code>{code}</Code>".encode(), body)
        self.assertIn(b"<RequestId>", body)
        self.assertEqual(resp.getheader("Content-Type"), "application/xml")
        self.assertFalse(self.upstream_saw("PUT", "/faulted"), "faulted request was forwarded")
        sock = conn.sock
        conn.request("PUT", "/after", body=b"ok")  # body was drained: connection still usable
        self.assertEqual(json.loads(conn.getresponse().read())["len"], 2)
        self.assertIs(conn.sock, sock)
        conn.close()
        self.assertEqual(self.stats()["faults"], {fault: 1})

    def test_slowdown_is_an_s3_503_and_not_forwarded(self):
        self.check_error_fault("slowdown", 503, "SlowDown")

    def test_500_is_an_s3_internal_error_and_not_forwarded(self):
        self.check_error_fault("500", 500, "InternalError")

    def test_slowdown_with_expect_continue_closes_without_reading_the_body(self):
        self.configure(next=["slowdown"])
        sock = self.connect()
        sock.sendall(b"PUT /expect-refused HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n"
                     b"Expect: 100-continue\r\n\r\n")
        status, headers, rest = read_head(sock)
        self.assertEqual(status, 503)
        self.assertEqual(headers["connection"], "close")
        body, how = read_until_end(sock, rest)
        self.assertIn(b"<Code>SlowDown</Code>", body)
        self.assertEqual(how, "eof")
        self.assertFalse(self.upstream_saw("PUT", "/expect-refused"))

    def test_reset_before_forwarding_sends_nothing_upstream(self):
        self.configure(next=["reset_before"])
        sock = self.connect()
        try:
            sock.sendall(b"PUT /reset HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" +
                         b"r" * 100)
            data, how = read_until_end(sock)
        except (ConnectionResetError, BrokenPipeError):
            data, how = b"", "reset"
        self.assertEqual((data, how), (b"", "reset"))
        time.sleep(0.2)
        self.assertFalse(self.upstream_saw("PUT", "/reset"))
        self.assertEqual(self.stats()["faults"], {"reset_before": 1})

    # --- faults on responses ---

    def test_reset_mid_response(self):
        self.configure(next=["reset_mid"], body_offset=1000)
        sock = self.get_raw("/bytes/1000000")
        status, headers, rest = read_head(sock)
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-length"], "1000000")
        data, how = read_until_end(sock, rest)
        self.assertEqual(how, "reset")
        self.assertLessEqual(len(data), 1000)
        self.assertTrue(self.upstream_saw("GET", "/bytes/1000000"))
        self.assertEqual(self.stats()["faults"], {"reset_mid": 1})

    def test_reset_mid_without_body_drops_the_response(self):
        self.configure(next=["reset_mid"])
        sock = self.get_raw("/empty")
        data, how = read_until_end(sock)
        self.assertEqual((data, how), (b"", "reset"))
        self.assertTrue(self.upstream_saw("GET", "/empty"))  # it ran; its answer was lost

    def test_reset_picks_one_of_the_two_variants(self):
        self.configure(next=["reset"] * 6)
        for _ in range(6):
            sock = self.get_raw("/bytes/100000")
            _, how = read_until_end(sock)
            self.assertEqual(how, "reset")
        faults = self.stats()["faults"]
        self.assertEqual(faults["reset"], 6)
        self.assertEqual(faults.get("reset_before", 0) + faults.get("reset_mid", 0), 6)

    def test_truncate_announces_full_length_and_sends_fewer_bytes(self):
        self.configure(next=["truncate", "truncate"], body_offset=None)
        sock = self.get_raw("/bytes/500000")
        status, headers, rest = read_head(sock)
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-length"], "500000")
        data, how = read_until_end(sock, rest)
        self.assertEqual(how, "eof")
        self.assertLess(len(data), 500000)
        self.assertEqual(data, body_bytes(500000)[:len(data)])

        self.configure(next=["truncate"], body_offset=5000)
        sock = self.get_raw("/bytes/500000")
        _, _, rest = read_head(sock)
        data, how = read_until_end(sock, rest)
        self.assertEqual((len(data), how), (5000, "eof"))
        self.assertEqual(data, body_bytes(5000))

        # http.client sees it as an incomplete read.
        self.configure(next=["truncate"], body_offset=7)
        conn = self.http(timeout=10)
        conn.request("GET", "/bytes/100")
        with self.assertRaises(http.client.IncompleteRead):
            conn.getresponse().read()
        self.assertEqual(self.stats()["faults"], {"truncate": 3})

    def test_truncate_chunked_body_never_ends_the_chunking(self):
        self.configure(next=["truncate"], body_offset=500)
        sock = self.get_raw("/chunked/100000")
        status, headers, rest = read_head(sock)
        self.assertEqual(headers["transfer-encoding"], "chunked")
        data, how = read_until_end(sock, rest)
        self.assertEqual(how, "eof")
        self.assertFalse(data.endswith(b"0\r\n\r\n"))
        self.assertEqual(data, b"3e8\r\n" + body_bytes(500))

    def test_truncate_without_body_is_not_applicable(self):
        self.configure(next=["truncate"])
        conn = self.http(timeout=10)
        conn.request("HEAD", "/bytes/99")
        resp = conn.getresponse()
        resp.read()
        self.assertEqual(resp.status, 200)
        stats = self.stats()
        self.assertEqual(stats["faults"], {})
        self.assertEqual(stats["not_applicable"], {"truncate": 1})

    def test_flip_request_changes_one_byte_of_the_request_body(self):
        n = 300000
        sent = body_bytes(n)
        for offset in (12345, 0, n - 1):
            self.configure(next=["flip_request"], body_offset=offset)
            conn = self.http(timeout=10)
            conn.request("PUT", "/flipped", body=sent, headers={"Content-Length": str(n)})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 200)
            changed = bytearray(sent)
            changed[offset] ^= 0xFF
            self.assertEqual(json.loads(resp.read()),
                             {"len": n, "sha256": hashlib.sha256(bytes(changed)).hexdigest()})
            conn.request("PUT", "/clean", body=sent)  # the connection is kept, the next is clean
            resp = conn.getresponse()
            self.assertEqual(json.loads(resp.read())["sha256"], hashlib.sha256(sent).hexdigest())
        self.assertEqual(self.stats()["faults"], {"flip_request": 3})
        self.configure(next=["flip_request"], body_offset=None)
        conn = self.http(timeout=10)
        conn.request("GET", "/bytes/10")
        self.assertEqual(conn.getresponse().read(), body_bytes(10))
        self.assertEqual(self.stats()["not_applicable"], {"flip_request": 1})

    def test_flip_changes_one_byte_and_keeps_the_length(self):
        n = 200000
        expected = body_bytes(n)
        for offset in (None, 12345, 0, n - 1):
            self.configure(next=["flip"], body_offset=offset)
            conn = self.http(timeout=10)
            conn.request("GET", f"/bytes/{n}")
            resp = conn.getresponse()
            data = resp.read()
            self.assertEqual(len(data), n)
            diffs = [i for i in range(n) if data[i] != expected[i]]
            self.assertEqual(len(diffs), 1, diffs[:5])
            self.assertEqual(data[diffs[0]], expected[diffs[0]] ^ 0xFF)
            if offset is not None:
                self.assertEqual(diffs[0], offset)
            conn.request("GET", "/bytes/10")  # the connection is kept
            self.assertEqual(conn.getresponse().read(), body_bytes(10))
            conn.close()
        self.assertEqual(self.stats()["faults"], {"flip": 4})

    def test_latency_delays_before_forwarding(self):
        self.configure(next=["latency"], latency_ms=400)
        conn = self.http(timeout=10)
        start = time.monotonic()
        conn.request("GET", "/bytes/100")
        self.assertEqual(conn.getresponse().read(), body_bytes(100))
        self.assertGreaterEqual(time.monotonic() - start, 0.4)
        start = time.monotonic()
        conn.request("GET", "/bytes/100")
        conn.getresponse().read()
        self.assertLess(time.monotonic() - start, 0.3)
        self.assertEqual(self.stats()["faults"], {"latency": 1})

    def test_stall_stops_mid_body_then_resumes(self):
        self.configure(next=["stall"], stall_seconds=1.0, body_offset=100000)
        start = time.monotonic()
        sock = self.get_raw("/bytes/300000", timeout=0.4)
        _, _, rest = read_head(sock)
        data, how = read_until_end(sock, rest, 300000)
        self.assertEqual(how, "timeout")  # a client with a low-speed timeout gives up here
        self.assertEqual(len(data), 100000)
        sock.settimeout(5)
        data, how = read_until_end(sock, data, 300000)
        self.assertEqual(how, "complete")
        self.assertEqual(data, body_bytes(300000))
        self.assertGreaterEqual(time.monotonic() - start, 1.0)
        self.assertEqual(self.stats()["faults"], {"stall": 1})

    def test_stall_without_body_delays_the_head(self):
        self.configure(next=["stall"], stall_seconds=0.5)
        conn = self.http(timeout=10)
        start = time.monotonic()
        conn.request("DELETE", "/x")
        self.assertEqual(conn.getresponse().status, 204)
        self.assertGreaterEqual(time.monotonic() - start, 0.5)

    # --- selection, seeding, control ---

    def test_fault_rate_is_seeded_and_filtered_by_method(self):
        def statuses():
            conn = self.http(timeout=10)
            out = []
            for _ in range(60):
                conn.request("GET", "/bytes/10")
                resp = conn.getresponse()
                resp.read()
                out.append(resp.status)
            conn.close()
            return out

        self.configure(fault_rate=0.5, faults=["slowdown", "500"], seed=7)
        a = statuses()
        self.configure(seed=7)
        self.assertEqual(statuses(), a)
        self.configure(seed=8)
        self.assertNotEqual(statuses(), a)
        self.assertTrue(set(a) <= {200, 500, 503})
        self.assertTrue(10 <= sum(s != 200 for s in a) <= 50, a)

        self.configure(fault_rate=1.0, faults=["slowdown"], methods=["PUT"])
        conn = self.http(timeout=10)
        conn.request("GET", "/bytes/10")
        self.assertEqual(conn.getresponse().read(), body_bytes(10))
        conn.request("PUT", "/p", body=b"1")
        resp = conn.getresponse()
        resp.read()
        self.assertEqual(resp.status, 503)
        self.configure(methods=None, path_regex=r"^/only/")
        conn.request("PUT", "/p", body=b"1")
        resp = conn.getresponse()
        resp.read()
        self.assertEqual(resp.status, 200)
        conn.close()

    def test_stats_count_and_control_requests_are_never_forwarded(self):
        self.configure(next=["slowdown", "500", "flip"])
        conn = self.http(timeout=10)
        for _ in range(4):
            conn.request("GET", "/bytes/64")
            conn.getresponse().read()
        conn.close()
        stats = self.stats()
        self.assertEqual(stats["requests"], 4)
        self.assertEqual(stats["forwarded"], 2)
        self.assertEqual(stats["faults"], {"slowdown": 1, "500": 1, "flip": 1})
        self.assertFalse(any(p.startswith("/__fault_proxy__") for _, p, _, _ in self.upstream.log))
        self.assertEqual(len(self.upstream.log), 2)
        status, reply = self.control("GET", "config")
        self.assertEqual(status, 200)
        self.assertEqual(reply["next"], [])
        self.stderr.flush()
        self.stderr.seek(0)
        log = self.stderr.read()
        self.assertIn("GET /bytes/64: slowdown", log)
        self.assertIn("GET /bytes/64: flip", log)

    def test_requests_lists_every_request_since_the_reset(self):
        conn = self.http(timeout=10)
        conn.request("GET", "/before")
        conn.getresponse().read()
        self.control("POST", "reset")
        self.configure(next=["slowdown"])
        for method, path in (("PUT", "/a%2Fb?x=1"), ("GET", "/bytes/3"), ("DELETE", "/c")):
            conn.request(method, path, body=b"1" if method == "PUT" else None)
            conn.getresponse().read()
        conn.close()
        status, reply = self.control("GET", "requests")
        self.assertEqual(status, 200)
        # Faulted requests are listed too (they were sent); control requests never are.
        self.assertEqual(reply["requests"], ["PUT /a%2Fb?x=1", "GET /bytes/3", "DELETE /c"])
        self.control("POST", "reset")
        self.assertEqual(self.control("GET", "requests")[1]["requests"], [])

    def test_bad_config_is_refused(self):
        for bad in ({"faults": ["nope"]}, {"fault_rate": 2}, {"upstream": "10.0.0.1:80"},
                    {"next": ["explode"]}, {"path_regex": "("}):
            status, reply = self.control("POST", "config", bad)
            self.assertEqual(status, 400, bad)
            self.assertIn("error", reply)
        status, _ = self.control("GET", "nothing-here")
        self.assertEqual(status, 404)


class UpstreamCheckTest(unittest.TestCase):
    def test_refuses_non_local_upstreams(self):
        for upstream in ("10.1.2.3:7480", "example.com:80", "127.0.0.1.example.com:80",
                         "0.0.0.0:7480", "127.0.0.2:7480", "[::1]:7480", "7480"):
            proc = subprocess.run([sys.executable, PROXY, "--listen", "0", "--upstream", upstream],
                                  capture_output=True, text=True, timeout=20)
            self.assertEqual(proc.returncode, 2, upstream)
            self.assertEqual(proc.stdout, "", upstream)
            self.assertIn("upstream", proc.stderr, upstream)

    def test_exits_when_stdin_closes(self):
        upstream = Upstream()
        proc, _, stderr = start_proxy(upstream.port)
        try:
            proc.stdin.close()
            self.assertEqual(proc.wait(timeout=10), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            stderr.close()
            upstream.stop()

    def test_accepts_localhost(self):
        upstream = Upstream()
        proc, port, stderr = start_proxy(upstream.port)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/bytes/33")
            self.assertEqual(conn.getresponse().read(), body_bytes(33))
            conn.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            proc.stdin.close()
            proc.stdout.close()
            stderr.close()
            upstream.stop()
        proc2 = subprocess.Popen([sys.executable, PROXY, "--listen", "0", "--upstream",
                                  "localhost:7480"], stdout=subprocess.PIPE, text=True)
        try:
            self.assertIn("listening on 127.0.0.1:", proc2.stdout.readline())
        finally:
            proc2.terminate()
            proc2.wait(timeout=10)
            proc2.stdout.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
