#!/usr/bin/python3
"""Signs S3 requests with botocore's S3SigV4Auth: an independent signer for spacesfs's tests.

Run with Debian's /usr/bin/python3 (package python3-botocore). Reads a JSON array of cases on
stdin; writes two lines per case on stdout: the Authorization header botocore computed, then
botocore's canonical request as a one-line JSON string (for failure messages).

A case:
  {"method": "GET", "host": "bucket.nyc3.digitaloceanspaces.com", "path": "/raw key",
   "query": [["name", "value"], ...], "headers": [["Name", "value"], ...],
   "body_hex": "..." or null for UNSIGNED-PAYLOAD, "time": <unix seconds>,
   "access_key": "...", "secret_key": "...", "token": "" , "region": "nyc3"}

Strings are unencoded (UTF-8); the path is percent-encoded here the way botocore's REST
serializer encodes an S3 key (percent_encode(key, safe='/~')), and query parameters go through
request.params, which botocore encodes and sorts itself. How botocore treats what it is given:
  - S3SigV4Auth._normalize_url_path returns the URL path unchanged: no '.'/'..'/'//'
    normalisation and no second encoding; the canonical URI is the path on the wire.
  - It adds X-Amz-Date (from the clock, fixed here), X-Amz-Content-SHA256 (SHA-256 of the body,
    or UNSIGNED-PAYLOAD when the client config disables payload signing) and X-Amz-Security-Token
    (with a session token). A Date header would make it drop X-Amz-Date, and User-Agent, Expect and
    X-Amzn-Trace-Id are never signed, so cases must not use those names.
"""

import datetime
import json
import sys
import types

try:
    import botocore.auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials
    from botocore.utils import percent_encode
except ImportError as e:  # the C++ test turns this into its failure message
    sys.stderr.write(f"botocore is not importable ({e}); install python3-botocore\n")
    sys.exit(3)

FORBIDDEN_HEADERS = {"date", "user-agent", "expect", "x-amzn-trace-id", "authorization",
                     "host", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"}


def fixed_clock(unix_seconds):
    fixed = datetime.datetime.fromtimestamp(unix_seconds, tz=datetime.timezone.utc)
    fixed = fixed.replace(tzinfo=None)

    class FixedDateTime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return fixed

    return types.SimpleNamespace(datetime=FixedDateTime)


def sign(case):
    encoded_path = percent_encode(case["path"], safe="/~")
    url = "https://" + case["host"] + encoded_path
    request = AWSRequest(method=case["method"], url=url)
    # Explicit Host header (botocore would otherwise derive it from the URL).
    request.headers["Host"] = case["host"]
    for name, value in case["headers"]:
        if name.lower() in FORBIDDEN_HEADERS:
            raise ValueError(f"header {name!r} is handled specially by botocore")
        request.headers[name] = value  # HTTPHeaders: a repeated name is kept, not replaced
    request.params = [(k, v) for k, v in case["query"]]
    if case["body_hex"] is None:
        request.data = b""
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    else:
        request.data = bytes.fromhex(case["body_hex"])

    credentials = Credentials(case["access_key"], case["secret_key"], case["token"] or None)
    auth = botocore.auth.S3SigV4Auth(credentials, "s3", case["region"])
    captured = []
    build_canonical = auth.canonical_request

    def capture_canonical(req):
        captured.append(build_canonical(req))
        return captured[-1]

    auth.canonical_request = capture_canonical
    real_datetime = botocore.auth.datetime
    botocore.auth.datetime = fixed_clock(case["time"])
    try:
        auth.add_auth(request)
    finally:
        botocore.auth.datetime = real_datetime
    return request.headers["Authorization"], captured[-1]


def main():
    cases = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    out = []
    for case in cases:
        authorization, canonical = sign(case)
        out.append(authorization)
        out.append(json.dumps(canonical))
    sys.stdout.write("\n".join(out) + ("\n" if out else ""))


if __name__ == "__main__":
    main()
