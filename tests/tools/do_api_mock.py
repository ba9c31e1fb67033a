#!/usr/bin/env python3
"""A stand-in for the DigitalOcean Spaces keys API (and a tiny S3 ListObjectsV2), for tests.

Usage: do_api_mock.py PORT_FILE LOG_FILE
Listens on 127.0.0.1 on a free port, writes the port to PORT_FILE, and appends one JSON line per
request to LOG_FILE: {"method", "path", "headers": {lower-case name: value}, "body"}.

Behaviour:
  POST   /v2/spaces/keys          201 {"key": {name, grants, access_key, secret_key, created_at}};
                                   422 for grants DigitalOcean refuses: a permission other than
                                   read, readwrite or fullaccess, fullaccess with a bucket other
                                   than "" (fullaccess means every bucket), or fullaccess together
                                   with other grants
  GET    /v2/spaces/keys?page=N    the keys created so far, one per page, with links.pages.next
  DELETE /v2/spaces/keys/AK        204, or 404 when unknown
  GET    /BUCKET?list-type=2       200 empty ListBucketResult when signed by a live key, else 403
  POST   /_mock/fail               body {"status": N, "count": K, "headers": {...}, "delay": S,
                                   "method": "POST", "path": "/v2/"}: the next K requests with
                                   that method (any when absent) whose path starts with "path"
                                   (default "/v2/", the API) answer N (or sleep S seconds first).
                                   Not logged.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs

LOCK = threading.Lock()
KEYS = []          # dicts as returned by the API (without secret_key)
FAILS = []         # pending failure rules
COUNTER = [0]
LOG_PATH = None


def grant_problem(grants):
    """What DigitalOcean would refuse (422) in a key's grants, or None."""
    if not isinstance(grants, list) or not grants:
        return "grants must be a non-empty list"
    for grant in grants:
        if not isinstance(grant, dict) or not isinstance(grant.get("bucket"), str):
            return "each grant needs a bucket"
        permission = grant.get("permission")
        if permission not in ("read", "readwrite", "fullaccess"):
            return "invalid permission %r" % (permission,)
        if permission == "fullaccess" and grant["bucket"] != "":
            return "fullaccess grants apply to all buckets: bucket must be empty"
    if len(grants) > 1 and any(g["permission"] == "fullaccess" for g in grants):
        return "a fullaccess grant cannot be combined with other grants"
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body=b"", headers=None, content_type="application/json"):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        url = urlsplit(self.path)
        if url.path == "/_mock/fail":
            with LOCK:
                FAILS.append(json.loads(body))
            return self.reply(200, b"{}")
        with LOCK:
            with open(LOG_PATH, "a") as log:
                log.write(json.dumps({"method": self.command, "path": self.path,
                                      "headers": {k.lower(): v for k, v in self.headers.items()},
                                      "body": body}) + "\n")
            rule = None
            for r in FAILS:
                if r.get("method") in (None, self.command) and url.path.startswith(r.get("path", "/v2/")):
                    rule = r
                    break
            if rule is not None:
                rule["count"] = rule.get("count", 1) - 1
                if rule["count"] <= 0:
                    FAILS.remove(rule)
        if rule is not None:
            if rule.get("delay"):
                time.sleep(rule["delay"])
            status = rule.get("status", 500)
            msg = json.dumps({"id": "mock_error", "message": "mock error %d" % status}).encode()
            return self.reply(status, msg, rule.get("headers"))
        if url.path == "/v2/spaces/keys" and self.command == "POST":
            req = json.loads(body)
            problem = grant_problem(req.get("grants"))
            if problem:
                return self.reply(422, json.dumps({"id": "unprocessable_entity",
                                                   "message": problem}).encode())
            with LOCK:
                COUNTER[0] += 1
                n = COUNTER[0]
                key = {"name": req.get("name", ""), "grants": req.get("grants", []),
                       "access_key": "DO00MOCK%08d" % n, "created_at": "2026-11-28T12:00:%02dZ" % (n % 60)}
                KEYS.append(key)
            full = dict(key, secret_key="mockSecret%dXyZ9+abcDEF/ghiJKL0123456789" % n)
            return self.reply(201, json.dumps({"key": full}).encode())
        if url.path == "/v2/spaces/keys" and self.command == "GET":
            page = int(parse_qs(url.query).get("page", ["1"])[0])
            with LOCK:
                keys = list(KEYS)
            chunk = keys[page - 1:page]
            links = {"pages": {}}
            if page < len(keys):
                links["pages"]["next"] = "http://127.0.0.1:%d/v2/spaces/keys?page=%d&per_page=1" % (
                    self.server.server_address[1], page + 1)
            return self.reply(200, json.dumps({"keys": chunk, "links": links,
                                               "meta": {"total": len(keys)}}).encode())
        if url.path.startswith("/v2/spaces/keys/") and self.command == "DELETE":
            ak = url.path.rsplit("/", 1)[1]
            with LOCK:
                found = [k for k in KEYS if k["access_key"] == ak]
                for k in found:
                    KEYS.remove(k)
            if not found:
                return self.reply(404, json.dumps({"id": "not_found",
                                                   "message": "The resource you were accessing could not be found."}).encode())
            return self.reply(204)
        if self.command == "GET" and "list-type=2" in url.query:
            auth = self.headers.get("Authorization", "")
            with LOCK:
                live = any(("Credential=%s/" % k["access_key"]) in auth for k in KEYS)
            if not live:
                return self.reply(403, b"<Error><Code>InvalidAccessKeyId</Code></Error>", content_type="application/xml")
            bucket = url.path.strip("/").split("/")[0]
            xml = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>%s</Name>"
                   "<Prefix></Prefix><KeyCount>0</KeyCount><MaxKeys>1</MaxKeys>"
                   "<IsTruncated>false</IsTruncated></ListBucketResult>" % bucket).encode()
            return self.reply(200, xml, content_type="application/xml")
        return self.reply(404, json.dumps({"id": "not_found", "message": "no route"}).encode())

    do_GET = do_POST = do_DELETE = do_PUT = do_HEAD = handle_any


def main():
    global LOG_PATH
    port_file, LOG_PATH = sys.argv[1], sys.argv[2]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
