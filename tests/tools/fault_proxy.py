#!/usr/bin/env python3
"""fault_proxy: a fault-injecting HTTP/1.1 reverse proxy for testing spacesfs against a local radosgw.

It listens on 127.0.0.1 only and forwards to an upstream on 127.0.0.1 or localhost only (any other
upstream is refused at startup). Connections are kept alive on both sides (one upstream connection
per client connection); bodies are streamed in 256 KiB pieces, never held whole. Requests are
forwarded byte for byte (Host and every signed header unchanged), so SigV4 signatures stay valid.

Each request that matches the filters (--methods, --path-regex) is faulted with probability
--fault-rate; the fault is drawn from --faults with a random.Random(--seed). Faults:

  slowdown      503 with an S3 <Error><Code>SlowDown</Code> XML body; the request is not forwarded
  500           500 with an S3 <Error><Code>InternalError</Code> body; not forwarded
  reset         one of reset_before / reset_mid, drawn from the same RNG
  reset_before  the client connection is reset (TCP RST) right after the request head; not forwarded
  reset_mid     forwarded; the response head and part of its body are sent, then TCP RST (with no
                body: RST instead of the response, i.e. the request ran but its response was lost)
  truncate      forwarded; full Content-Length announced, fewer bytes sent, then the connection is
                closed (chunked bodies: cut inside a chunk)
  flip          forwarded; one byte of the response body is inverted, the length is kept
  flip_request  forwarded with one byte of the request body inverted, the length kept (a body
                changed on the way to the server; a request without a body is forwarded as is
                and counted as not_applicable)
  latency       --latency-ms of sleep before forwarding
  stall         forwarded; sending stops mid-body for --stall-seconds, then resumes (with no body:
                the stall comes before the response head)

Where in a body truncate/flip/stall/reset_mid act is drawn from the RNG (uniform over the body, so
truncate always loses at least one byte), or fixed with the body_offset setting. truncate and flip
need a non-empty response body: on other responses they do nothing and are counted as
not_applicable. Faults before forwarding (slowdown, 500, reset_before) never forward the request;
for slowdown/500 the request body is read and discarded so the connection stays usable, except
with "Expect: 100-continue", where the error is the final answer and the connection is closed.

Control endpoint, on the same port, never forwarded (JSON in, JSON out):
  GET  /__fault_proxy__/stats    {"requests": N, "forwarded": N, "faults": {name: n},
                                  "not_applicable": {name: n}}
  GET  /__fault_proxy__/requests {"requests": ["METHOD TARGET", ...]}: every request received since
                                 the last reset (at most the last 100,000), in arrival order
  POST /__fault_proxy__/reset    zeroes the stats and empties the request journal
  GET  /__fault_proxy__/config   the current settings
  POST /__fault_proxy__/config   changes settings; body keys (all optional):
      fault_rate (0..1), faults (list or "a,b"), latency_ms, stall_seconds, seed (re-seeds the RNG),
      methods (list, null = all), path_regex (re.search on the request target, null = all),
      body_offset (int or null), verbose (bool),
      next (list of fault names forced, in order, on the next matching requests, whatever the rate)

On startup it prints "fault_proxy listening on 127.0.0.1:PORT" to stdout (so --listen 0 picks a
free port); with --verbose, one line per injected fault to stderr. With --exit-with-stdin it exits
when its stdin reaches EOF, so a test that gives it a pipe never leaves it running. Python 3 standard
library only.
"""

import argparse
import asyncio
import collections
import json
import os
import random
import re
import socket
import struct
import sys

CONTROL_PREFIX = "/__fault_proxy__/"
FAULTS = ("slowdown", "500", "reset", "reset_before", "reset_mid", "truncate", "flip", "flip_request",
          "latency",
          "stall")
LOCAL_UPSTREAM_HOSTS = ("127.0.0.1", "localhost")
RELAY_PIECE = 256 * 1024
STREAM_LIMIT = 1 << 20       # longest request/response head accepted
JOURNAL_LIMIT = 100000       # requests kept for GET /__fault_proxy__/requests
EXPECT_WAIT_SECONDS = 1.0    # how long to wait for upstream's "100 Continue"

ERROR_BODIES = {
    "slowdown": (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
    "500": (500, "Internal Server Error", "InternalError",
            "We encountered an internal error. Please try again."),
}


class Cut(Exception):
    """Ends the client connection now: with a TCP reset, or with a plain close."""

    def __init__(self, reset):
        super().__init__("reset" if reset else "close")
        self.reset = reset


class HttpError(Exception):
    pass


def parse_upstream(text):
    """Returns (host, port) for "HOST:PORT"; raises ValueError unless HOST is local."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"upstream must be HOST:PORT, got {text!r}")
    if host not in LOCAL_UPSTREAM_HOSTS:
        raise ValueError(f"refusing non-local upstream {host!r}: only "
                         f"{' or '.join(LOCAL_UPSTREAM_HOSTS)} are allowed")
    port = int(port)
    if not 0 < port < 65536:
        raise ValueError(f"bad upstream port {port}")
    return host, port


def parse_fault_list(value):
    names = value.split(",") if isinstance(value, str) else list(value)
    names = [str(n).strip() for n in names if str(n).strip()]
    for name in names:
        if name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
    return names


class Settings:
    def __init__(self, args):
        self.fault_rate = args.fault_rate
        self.faults = parse_fault_list(args.faults)
        self.latency_ms = args.latency_ms
        self.stall_seconds = args.stall_seconds
        self.methods = [m.upper() for m in args.methods.split(",")] if args.methods else None
        self.path_regex = args.path_regex
        self.body_offset = None
        self.verbose = args.verbose
        self.validate()

    def validate(self):
        if not 0.0 <= float(self.fault_rate) <= 1.0:
            raise ValueError("fault_rate must be in [0, 1]")
        if float(self.latency_ms) < 0 or float(self.stall_seconds) < 0:
            raise ValueError("latency_ms and stall_seconds must not be negative")
        if self.body_offset is not None and int(self.body_offset) < 0:
            raise ValueError("body_offset must not be negative")
        if self.path_regex is not None:
            re.compile(self.path_regex)

    def update(self, changes):
        if not isinstance(changes, dict):
            raise ValueError("config body must be a JSON object")
        known = {"fault_rate", "faults", "latency_ms", "stall_seconds", "methods", "path_regex",
                 "body_offset", "verbose"}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown setting {key!r}")
            if key == "faults":
                value = parse_fault_list(value)
            elif key == "methods" and value is not None:
                value = [str(m).upper() for m in value]
            elif key in ("fault_rate", "latency_ms", "stall_seconds"):
                value = float(value)
            elif key == "body_offset" and value is not None:
                value = int(value)
            setattr(self, key, value)
        self.validate()

    def as_dict(self):
        return {"fault_rate": self.fault_rate, "faults": self.faults, "latency_ms": self.latency_ms,
                "stall_seconds": self.stall_seconds, "methods": self.methods,
                "path_regex": self.path_regex, "body_offset": self.body_offset,
                "verbose": self.verbose}


class Head:
    """A parsed request or response head; `raw` is forwarded unchanged."""

    def __init__(self, raw):
        self.raw = raw
        lines = raw[:-4].decode("latin-1").split("\r\n")
        self.start = lines[0].split(" ", 2)
        if len(self.start) < 2:
            raise HttpError(f"malformed start line {lines[0]!r}")
        self.headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise HttpError(f"malformed header line {line!r}")
            name = name.strip().lower()
            value = value.strip()
            self.headers[name] = f"{self.headers[name]},{value}" if name in self.headers else value

    def header(self, name):
        return self.headers.get(name, "")

    def tokens(self, name):
        return {t.strip().lower() for t in self.header(name).split(",") if t.strip()}

    @property
    def chunked(self):
        return "chunked" in self.tokens("transfer-encoding")

    @property
    def content_length(self):
        value = self.header("content-length")
        if not value:
            return None
        try:
            n = int(value.split(",")[0])
        except ValueError:
            raise HttpError(f"bad Content-Length {value!r}") from None
        if n < 0:
            raise HttpError(f"bad Content-Length {value!r}")
        return n

    def wants_close(self, version):
        connection = self.tokens("connection")
        if version == "HTTP/1.0":
            return "keep-alive" not in connection
        return "close" in connection


class Request(Head):
    def __init__(self, raw):
        super().__init__(raw)
        if len(self.start) != 3:
            raise HttpError("malformed request line")
        self.method, self.target, self.version = self.start
        self.close = self.wants_close(self.version)
        self.expect_continue = "100-continue" in self.tokens("expect")

    @property
    def has_body(self):
        return self.chunked or bool(self.content_length)


class Response(Head):
    def __init__(self, raw):
        super().__init__(raw)
        try:
            self.status = int(self.start[1])
        except ValueError:
            raise HttpError(f"bad status line {self.start!r}") from None
        self.close = self.wants_close(self.start[0])


async def read_head(reader):
    """Reads up to the blank line; None on a clean EOF before any byte."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial:
            return None
        raise HttpError("connection closed inside a head") from None
    except asyncio.LimitOverrunError:
        raise HttpError("head too long") from None


class PlainSink:
    """Writes framing and body bytes to a stream as they come."""

    def __init__(self, writer):
        self.writer = writer

    async def raw(self, data):
        self.writer.write(data)
        await self.writer.drain()

    async def data(self, data):
        await self.raw(data)


class NullSink:
    async def raw(self, data):
        pass

    async def data(self, data):
        pass


class FaultSink(PlainSink):
    """Writes a body and applies a body fault at one offset of its data: to a response body on
    its way to the client, or (flip_request) to a request body on its way upstream."""

    def __init__(self, writer, fault, proxy, total, number, request):
        super().__init__(writer)
        self.fault = fault
        self.proxy = proxy
        self.number = number
        self.request = request
        self.total = total      # data length when known (Content-Length), else None
        self.offset = None      # chosen at the first data piece
        self.position = 0
        self.applied = False

    async def data(self, data):
        if not data:
            return
        if self.offset is None:
            self.offset = self.proxy.body_offset(self.total or len(data))
        start = self.position
        self.position += len(data)
        if self.applied or not start <= self.offset < self.position:
            await self.raw(data)
            return
        self.applied = True
        cut = self.offset - start
        which = "request body" if self.fault == "flip_request" else "body"
        self.proxy.count(self.number, self.request, self.fault, detail=f"at {which} byte {self.offset}")
        if self.fault in ("flip", "flip_request"):
            flipped = bytearray(data)
            flipped[cut] ^= 0xFF
            await self.raw(bytes(flipped))
            return
        if cut:
            await self.raw(data[:cut])
        if self.fault == "truncate":
            raise Cut(reset=False)
        if self.fault == "reset_mid":
            raise Cut(reset=True)
        # stall
        await asyncio.sleep(self.proxy.settings.stall_seconds)
        await self.raw(data[cut:])


async def relay_length(reader, length, sink):
    remaining = length
    while remaining:
        data = await reader.read(min(RELAY_PIECE, remaining))
        if not data:
            raise asyncio.IncompleteReadError(b"", remaining)
        remaining -= len(data)
        await sink.data(data)


async def relay_chunked(reader, sink):
    while True:
        line = await reader.readuntil(b"\r\n")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise HttpError(f"bad chunk size line {line!r}") from None
        await sink.raw(line)
        if size == 0:
            while True:
                trailer = await reader.readuntil(b"\r\n")
                await sink.raw(trailer)
                if trailer == b"\r\n":
                    return
        await relay_length(reader, size, sink)
        await sink.raw(await reader.readexactly(2))


async def relay_until_close(reader, sink):
    while True:
        data = await reader.read(RELAY_PIECE)
        if not data:
            return
        await sink.data(data)


async def relay_request_body(request, reader, sink):
    if request.chunked:
        await relay_chunked(reader, sink)
    elif request.content_length:
        await relay_length(reader, request.content_length, sink)


def reset_connection(writer):
    """Closes with a TCP RST instead of a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


def error_response(fault, request_number, close):
    status, reason, code, message = ERROR_BODIES[fault]
    request_id = f"fault-proxy-{request_number}"
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{message}</Message><RequestId>{request_id}</RequestId></Error>").encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\n"
            f"Content-Length: {len(body)}\r\nx-amz-request-id: {request_id}\r\n"
            f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n").encode()
    return head + body


def json_response(status, obj, close):
    body = (json.dumps(obj, sort_keys=True) + "\n").encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n").encode()
    return head + body


class FaultProxy:
    def __init__(self, upstream, settings, seed):
        self.upstream = upstream
        self.settings = settings
        self.rng = random.Random(seed)
        self.forced = collections.deque()
        self.reset_stats()

    def reset_stats(self):
        self.requests = 0
        self.journal = collections.deque(maxlen=JOURNAL_LIMIT)
        self.forwarded = 0
        self.faults = collections.Counter()
        self.not_applicable = collections.Counter()

    def stats(self):
        return {"requests": self.requests, "forwarded": self.forwarded,
                "faults": dict(self.faults), "not_applicable": dict(self.not_applicable)}

    def log(self, number, request, text):
        if self.settings.verbose:
            print(f"fault_proxy: request {number} {request.method} {request.target}: {text}",
                  file=sys.stderr, flush=True)

    def matches(self, request):
        s = self.settings
        if s.methods is not None and request.method.upper() not in s.methods:
            return False
        if s.path_regex is not None and not re.search(s.path_regex, request.target):
            return False
        return True

    def choose_fault(self, request):
        if not self.matches(request):
            return None
        if self.forced:
            fault = self.forced.popleft()
        elif self.settings.faults and self.rng.random() < self.settings.fault_rate:
            fault = self.rng.choice(self.settings.faults)
        else:
            return None
        if fault == "reset":
            self.faults["reset"] += 1
            fault = self.rng.choice(("reset_before", "reset_mid"))
        return fault

    def count(self, number, request, fault, applied=True, detail=""):
        if applied:
            self.faults[fault] += 1
            self.log(number, request, fault + (f" ({detail})" if detail else ""))
        else:
            self.not_applicable[fault] += 1
            self.log(number, request, f"{fault} not applicable ({detail})")

    def body_offset(self, length):
        if self.settings.body_offset is not None:
            return min(self.settings.body_offset, length - 1)
        return self.rng.randrange(length)

    async def handle_control(self, request, reader, writer):
        body = bytearray()

        class Collect(NullSink):
            async def data(self, data):
                body.extend(data)
                if len(body) > STREAM_LIMIT:
                    raise HttpError("control body too long")

        await relay_request_body(request, reader, Collect())
        path = request.target.split("?", 1)[0][len(CONTROL_PREFIX):]
        status, reply = 200, None
        try:
            if path == "stats" and request.method == "GET":
                reply = self.stats()
            elif path == "requests" and request.method == "GET":
                reply = {"requests": list(self.journal)}
            elif path == "reset" and request.method == "POST":
                self.reset_stats()
                reply = self.stats()
            elif path == "config" and request.method == "GET":
                reply = dict(self.settings.as_dict(), next=list(self.forced))
            elif path == "config" and request.method in ("POST", "PUT"):
                changes = json.loads(body.decode() or "{}")
                if not isinstance(changes, dict):
                    raise ValueError("config body must be a JSON object")
                changes = dict(changes)
                seed = changes.pop("seed", None)
                forced = changes.pop("next", None)
                forced = parse_fault_list(forced) if forced is not None else None
                self.settings.update(changes)
                if seed is not None:
                    self.rng.seed(int(seed))
                if forced is not None:
                    self.forced = collections.deque(forced)
                reply = dict(self.settings.as_dict(), next=list(self.forced))
            else:
                status, reply = 404, {"error": f"no control endpoint {request.method} "
                                               f"{request.target}"}
        except (ValueError, TypeError, re.error) as e:
            status, reply = 400, {"error": str(e)}
        writer.write(json_response(status, reply, request.close))
        await writer.drain()
        return not request.close

    async def handle_client(self, reader, writer):
        session = Session(self, reader, writer)
        reset = False
        try:
            await session.run()
        except Cut as cut:
            reset = cut.reset
        except (ConnectionError, asyncio.IncompleteReadError, HttpError, OSError):
            pass
        finally:
            session.close_upstream()
            if reset:
                reset_connection(writer)
            else:
                writer.close()
                try:
                    await writer.wait_closed()
                except (ConnectionError, OSError):
                    pass


class Session:
    """One client connection and its upstream connection."""

    def __init__(self, proxy, reader, writer):
        self.proxy = proxy
        self.reader = reader
        self.writer = writer
        self.up_reader = None
        self.up_writer = None

    def close_upstream(self):
        if self.up_writer is not None:
            self.up_writer.transport.abort()
        self.up_reader = self.up_writer = None

    async def connect_upstream(self):
        """Returns True when an open upstream connection is reused, False for a new one."""
        if self.up_reader is not None and not self.up_reader.at_eof() \
                and not self.up_writer.is_closing():
            return True
        self.close_upstream()
        host, port = self.proxy.upstream
        self.up_reader, self.up_writer = await asyncio.open_connection(host, port,
                                                                       limit=STREAM_LIMIT)
        return False

    async def run(self):
        proxy = self.proxy
        while True:
            raw = await read_head(self.reader)
            if raw is None:
                return
            request = Request(raw)
            if request.target.startswith(CONTROL_PREFIX):
                if not await proxy.handle_control(request, self.reader, self.writer):
                    return
                continue
            proxy.requests += 1
            proxy.journal.append(f"{request.method} {request.target}")
            number = proxy.requests
            fault = proxy.choose_fault(request)
            if not await self.serve(number, request, fault):
                return

    async def serve(self, number, request, fault):
        """Handles one request; returns whether the client connection stays open."""
        proxy = self.proxy
        if fault in ERROR_BODIES:
            proxy.count(number, request, fault)
            if request.expect_continue and request.has_body:
                self.writer.write(error_response(fault, number, close=True))
                await self.writer.drain()
                return False
            await relay_request_body(request, self.reader, NullSink())
            self.writer.write(error_response(fault, number, request.close))
            await self.writer.drain()
            return not request.close
        if fault == "reset_before":
            proxy.count(number, request, fault)
            raise Cut(reset=True)
        if fault == "latency":
            proxy.count(number, request, fault, detail=f"{proxy.settings.latency_ms:g} ms")
            await asyncio.sleep(proxy.settings.latency_ms / 1000.0)

        flip_sink = None
        if fault == "flip_request":
            if not request.has_body:
                proxy.count(number, request, fault, applied=False, detail="no request body")
            else:
                flip_sink = FaultSink(None, fault, proxy, request.content_length, number, request)
        response, body_unread = await self.forward(request, flip_sink)
        if flip_sink is not None and not flip_sink.applied:
            proxy.count(number, request, fault, applied=False, detail="request body was empty")
        proxy.forwarded += 1
        framing = self.framing(request, response)
        keep_upstream = framing != "close" and not response.close and not body_unread
        keep_client = keep_upstream and not request.close and not body_unread
        has_data = framing == "chunked" or framing == "close" or \
            (framing == "length" and response.content_length > 0)

        body_fault = fault if fault in ("truncate", "flip", "stall", "reset_mid") else None
        if body_fault and not has_data:
            if body_fault == "reset_mid":
                proxy.count(number, request, fault, detail="response dropped")
                raise Cut(reset=True)
            if body_fault == "stall":
                proxy.count(number, request, fault, detail="before the response head")
                await asyncio.sleep(proxy.settings.stall_seconds)
            else:
                proxy.count(number, request, fault, applied=False, detail="no response body")
            body_fault = None

        if body_fault:
            total = response.content_length if framing == "length" else None
            sink = FaultSink(self.writer, body_fault, proxy, total, number, request)
        else:
            sink = PlainSink(self.writer)
        try:
            await sink.raw(response.raw)
            await self.relay_response_body(framing, response, sink)
        except Cut:
            self.close_upstream()
            raise
        if body_fault and not sink.applied:
            # A chunked/until-close body that ended before the chosen offset: nothing was changed.
            proxy.count(number, request, body_fault, applied=False, detail="body ended early")
        if not keep_upstream:
            self.close_upstream()
        return keep_client

    @staticmethod
    def framing(request, response):
        if request.method == "HEAD" or response.status in (204, 304) or response.status < 200:
            return "none"
        if response.chunked:
            return "chunked"
        if response.content_length is not None:
            return "length"
        return "close"

    async def relay_response_body(self, framing, response, sink):
        if framing == "chunked":
            await relay_chunked(self.up_reader, sink)
        elif framing == "length":
            await relay_length(self.up_reader, response.content_length, sink)
        elif framing == "close":
            await relay_until_close(self.up_reader, sink)

    async def read_final_response(self):
        while True:
            raw = await read_head(self.up_reader)
            if raw is None:
                raise ConnectionResetError("upstream closed before responding")
            response = Response(raw)
            if response.status >= 200 or response.status == 101:
                return response

    async def forward(self, request, flip_sink=None):
        """Sends the request upstream and returns (final response head, client body left unread).
        With flip_sink, the request body goes through it (flip_request)."""
        while True:
            reused = await self.connect_upstream()
            try:
                self.up_writer.write(request.raw)
                await self.up_writer.drain()
                if not request.has_body:
                    return await self.read_final_response(), False
                break
            except (ConnectionError, OSError):
                # A kept-alive upstream connection closed while idle: retry a bodyless request once,
                # on a fresh connection.
                self.close_upstream()
                if not reused or request.has_body:
                    raise
        upstream_sink = flip_sink if flip_sink is not None else PlainSink(self.up_writer)
        if flip_sink is not None:
            flip_sink.writer = self.up_writer  # the connection forward() just made
        if not request.expect_continue:
            await relay_request_body(request, self.reader, upstream_sink)
            return await self.read_final_response(), False
        head_task = asyncio.ensure_future(read_head(self.up_reader))
        try:
            return await self.forward_expecting_continue(request, head_task, upstream_sink)
        finally:
            if not head_task.done():
                head_task.cancel()

    async def forward_expecting_continue(self, request, head_task, upstream_sink):
        done, _ = await asyncio.wait({head_task}, timeout=EXPECT_WAIT_SECONDS)
        if head_task in done:
            raw = head_task.result()
            if raw is None:
                raise ConnectionResetError("upstream closed before responding")
            interim = Response(raw)
            if interim.status >= 200:
                return interim, True  # refused before the body: the client never sends it
            self.writer.write(raw)
            await self.writer.drain()
            await relay_request_body(request, self.reader, upstream_sink)
            return await self.read_final_response(), False
        # The upstream ignores Expect: tell the client to go on ourselves.
        self.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        await self.writer.drain()
        await relay_request_body(request, self.reader, upstream_sink)
        raw = await head_task
        if raw is None:
            raise ConnectionResetError("upstream closed before responding")
        response = Response(raw)
        if response.status < 200:
            response = await self.read_final_response()
        return response, False


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--listen", type=int, default=0,
                   help="port on 127.0.0.1 (0: pick a free one; printed on stdout)")
    p.add_argument("--upstream", default="127.0.0.1:7480", help="127.0.0.1:PORT or localhost:PORT")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--fault-rate", type=float, default=0.0)
    p.add_argument("--faults", default="slowdown,500,reset,truncate,flip,latency,stall")
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--stall-seconds", type=float, default=30.0)
    p.add_argument("--methods", default="", help="only fault these methods, e.g. GET,HEAD")
    p.add_argument("--path-regex", default=None, help="only fault targets matching this regex")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--exit-with-stdin", action="store_true",
                   help="exit when stdin reaches EOF (a test passes a pipe, so the proxy never "
                        "outlives it)")
    return p.parse_args(argv)


async def serve_forever(args):
    upstream = parse_upstream(args.upstream)
    proxy = FaultProxy(upstream, Settings(args), args.seed)
    server = await asyncio.start_server(proxy.handle_client, "127.0.0.1", args.listen,
                                        limit=STREAM_LIMIT, reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    print(f"fault_proxy listening on 127.0.0.1:{port}", flush=True)
    if args.exit_with_stdin:
        loop = asyncio.get_running_loop()
        stdin = sys.stdin.fileno()

        def on_stdin():
            if not os.read(stdin, 4096):
                loop.remove_reader(stdin)
                server.close()

        loop.add_reader(stdin, on_stdin)
    async with server:
        try:
            await server.serve_forever()
        except asyncio.CancelledError:
            pass


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        parse_upstream(args.upstream)
        Settings(args)
    except (ValueError, re.error) as e:
        print(f"fault_proxy: {e}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve_forever(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
