#!/usr/bin/python3
"""Waits until the server holds what a filesystem benchmark wrote, and says when that happened.

  wait_server.py object KEY SIZE               HEAD KEY until it answers 200 with Content-Length SIZE
  wait_server.py prefix PREFIX COUNT SIZE      list PREFIX until COUNT objects of SIZE bytes are there
  wait_server.py moved SRC DST COUNT SIZE      list until DST holds COUNT objects of SIZE bytes and
                                               SRC holds none
Keys ending in "/" (directory markers some filesystems write) are not counted.

Options: --endpoint URL --bucket NAME --timeout SECONDS (600) --interval SECONDS (0.2)
Prints "ready" once connected (start the timed work after that line), waits for SIGUSR1 (send it
when the timed command has returned), then polls; when the condition holds it prints
"done EPOCH_SECONDS" (time.time() of the response that showed it) and exits 0; exits 1 on timeout.
One long-lived process polls, so the benchmark pays no process start per poll.

Polling starts only after the command returned because the condition cannot hold earlier: the
command's last file, object or rename is made just before it returns. A poll while the command
runs finds nothing and takes CPU (a 1,000-key listing is about 0.13 s of it here) from the client
being measured on a 2-core machine.
"""
import argparse
import os
import signal
import sys
import time

import boto3
import botocore.config
import botocore.exceptions


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["object", "prefix", "moved"])
    parser.add_argument("args", nargs="+")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--interval", type=float, default=0.2)
    a = parser.parse_args()
    s3 = boto3.session.Session().client(
        "s3", endpoint_url=a.endpoint, region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        config=botocore.config.Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    s3.list_objects_v2(Bucket=a.bucket, MaxKeys=1)  # connect (and import everything) before "ready"
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})  # so a signal sent early is kept
    print("ready", flush=True)
    signal.sigwait({signal.SIGUSR1})

    def count(prefix, size):
        """(objects of `size` bytes, all objects) under prefix, markers not counted."""
        sized = total = 0
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=a.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                if obj["Key"].endswith("/"):
                    continue
                total += 1
                sized += obj["Size"] == size
        return sized, total

    def holds():
        if a.what == "object":
            try:
                head = s3.head_object(Bucket=a.bucket, Key=a.args[0])
            except botocore.exceptions.ClientError:
                return False
            return head["ContentLength"] == int(a.args[1])
        if a.what == "prefix":
            return count(a.args[0], int(a.args[2]))[0] == int(a.args[1])
        return (count(a.args[1], int(a.args[3]))[0] == int(a.args[2]) and
                count(a.args[0], -1)[1] == 0)

    deadline = time.time() + a.timeout
    while time.time() < deadline:
        try:
            ok = holds()
        except Exception:  # a transient error while the client under test hammers the server
            ok = False
        if ok:
            print(f"done {time.time():.6f}", flush=True)
            return 0
        time.sleep(a.interval)
    print("timeout", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main())
