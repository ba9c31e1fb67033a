#!/usr/bin/python3
"""boto3 counterpart of s3_client_bench: the same four commands, driven the way boto3 is usually used.

  boto3_bench.py put-file   LOCAL_FILE KEY     upload_file with a TransferConfig (multipart above part size)
  boto3_bench.py get-file   KEY LOCAL_FILE     download_file with the same TransferConfig
  boto3_bench.py put-dir    LOCAL_DIR PREFIX   put_object per file, --concurrency threads, one client
  boto3_bench.py get-prefix PREFIX LOCAL_DIR   list_objects_v2 pages, then get_object per key

Options: --endpoint URL --bucket NAME [--concurrency N (8)] [--part-size BYTES (8 MiB)]
Keys: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION from the environment.
Prints "ok objects=N bytes=N seconds=S" (S from the first request to the last response); exit 1 on error.
"""
import argparse
import concurrent.futures
import os
import sys
import time

import boto3
import botocore.config
from boto3.s3.transfer import TransferConfig


def make_client(args):
    config = botocore.config.Config(
        max_pool_connections=max(10, args.concurrency + 2),
        s3={"addressing_style": "path"},
        retries={"max_attempts": 5, "mode": "standard"},
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=args.endpoint,
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"), config=config)


def join_key(prefix, relative):
    if not prefix:
        return relative
    return prefix + relative if prefix.endswith("/") else prefix + "/" + relative


def run_parallel(items, threads, job):
    if threads == 1:
        for item in items:
            job(item)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(job, item) for item in items]:
            future.result()  # raises the first failure


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["put-file", "get-file", "put-dir", "get-prefix"])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--part-size", type=int, default=8 << 20)
    args = parser.parse_args()

    s3 = make_client(args)
    transfer = TransferConfig(multipart_threshold=args.part_size + 1, multipart_chunksize=args.part_size,
                              max_concurrency=args.concurrency, use_threads=args.concurrency > 1)
    start = time.monotonic()
    objects = bytes_moved = 0
    if args.command == "put-file":
        s3.upload_file(args.a, args.bucket, args.b, Config=transfer)
        objects, bytes_moved = 1, os.path.getsize(args.a)
    elif args.command == "get-file":
        s3.download_file(args.bucket, args.a, args.b, Config=transfer)
        objects, bytes_moved = 1, os.path.getsize(args.b)
    elif args.command == "put-dir":
        items = []
        for root, _, files in os.walk(args.a):
            for name in files:
                path = os.path.join(root, name)
                items.append((path, os.path.relpath(path, args.a)))

        def put(item):
            with open(item[0], "rb") as f:
                s3.put_object(Bucket=args.bucket, Key=join_key(args.b, item[1]), Body=f.read())

        run_parallel(items, args.concurrency, put)
        objects, bytes_moved = len(items), sum(os.path.getsize(p) for p, _ in items)
    else:  # get-prefix
        prefix = args.a if not args.a or args.a.endswith("/") else args.a + "/"
        items = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=args.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                relative = obj["Key"][len(prefix):]
                if relative and not relative.endswith("/"):
                    items.append((obj["Key"], relative, obj["Size"]))
        for _, relative, _ in items:
            os.makedirs(os.path.dirname(os.path.join(args.b, relative)), exist_ok=True)

        def get(item):
            body = s3.get_object(Bucket=args.bucket, Key=item[0])["Body"].read()
            with open(os.path.join(args.b, item[1]), "wb") as f:
                f.write(body)

        run_parallel(items, args.concurrency, get)
        objects, bytes_moved = len(items), sum(size for _, _, size in items)
    seconds = time.monotonic() - start
    print(f"ok objects={objects} bytes={bytes_moved} seconds={seconds:.6f}")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line, no traceback: the bench prints FAIL for the row
        print(f"boto3_bench: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
