#!/usr/bin/python3
"""Checks what a benchmark wrote to the server, against the local files it came from.

  s3_verify.py object LOCAL_FILE KEY         the object exists, has the file's size and an ETag that
                                             matches its MD5 (single PUT) or its multipart ETag for
                                             some part size (any whole MiB from 5 to 128, or --part-size),
                                             or for the part lengths the server reports; failing all
                                             that, the object's bytes are read back and compared
  s3_verify.py prefix LOCAL_DIR PREFIX       PREFIX holds exactly the files under LOCAL_DIR (same
                                             relative names, sizes and single-PUT MD5 ETags); keys
                                             ending in "/" (directory markers) are ignored
  s3_verify.py count PREFIX                  prints the number of objects and bytes under PREFIX
  s3_verify.py delete PREFIX                 deletes every object under PREFIX (DeleteObjects)

Options: --endpoint URL --bucket NAME. Keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
Exit 0 and "ok ..." on success; exit 1 and "FAIL: why" otherwise.
"""
import argparse
import hashlib
import os
import sys

import boto3
import botocore.config


def client(args):
    return boto3.session.Session().client(
        "s3", endpoint_url=args.endpoint, region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        config=botocore.config.Config(s3={"addressing_style": "path"}, max_pool_connections=16))


def file_digests(path, part_size):
    """(md5 hex of the whole file, multipart ETag for part_size)."""
    whole = hashlib.md5()
    parts = []
    with open(path, "rb") as f:
        while True:
            chunk = f.read(part_size)
            if not chunk:
                break
            whole.update(chunk)
            parts.append(hashlib.md5(chunk).digest())
    multi = hashlib.md5(b"".join(parts)).hexdigest() + f"-{len(parts)}"
    return whole.hexdigest(), multi


def check_object(s3, args):
    size = os.path.getsize(args.a)
    head = s3.head_object(Bucket=args.bucket, Key=args.b)
    if head["ContentLength"] != size:
        return f"{args.b}: size {head['ContentLength']}, want {size}"
    etag = head["ETag"].strip('"')
    if "-" not in etag:
        md5, _ = file_digests(args.a, 1 << 30)
        return None if etag == md5 else f"{args.b}: ETag {etag} is not the file's MD5 {md5}"
    parts = int(etag.split("-")[1])
    sizes = [args.part_size] if args.part_size else [m << 20 for m in range(5, 129)]
    for part_size in sizes:
        if (size + part_size - 1) // part_size != parts:
            continue
        if file_digests(args.a, part_size)[1] == etag:
            return None
    # Parts of unequal sizes (s3fs uploads what it has when it flushes): ask the server for each
    # part's length (HEAD ?partNumber=N) and compute the ETag over those lengths.
    try:
        lengths = [s3.head_object(Bucket=args.bucket, Key=args.b, PartNumber=n)["ContentLength"]
                   for n in range(1, parts + 1)]
        if sum(lengths) == size and multipart_etag(args.a, lengths) == etag:
            return None
    except Exception:
        pass
    # Last resort: read the object back and compare the bytes.
    if md5_of_object(s3, args.bucket, args.b) == file_digests(args.a, 1 << 30)[0]:
        return None
    return f"{args.b}: the object's bytes differ from the local file (multipart ETag {etag})"


def multipart_etag(path, lengths):
    digests = []
    with open(path, "rb") as f:
        for n in lengths:
            digests.append(hashlib.md5(f.read(n)).digest())
    return hashlib.md5(b"".join(digests)).hexdigest() + f"-{len(lengths)}"


def md5_of_object(s3, bucket, key):
    h = hashlib.md5()
    for chunk in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(1 << 20):
        h.update(chunk)
    return h.hexdigest()


def list_prefix(s3, prefix):
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=ARGS.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if ARGS.command != "delete" and obj["Key"].endswith("/"):
                continue  # directory markers some filesystems write
            out[obj["Key"]] = (obj["Size"], obj["ETag"].strip('"'))
    return out


def check_prefix(s3, args):
    prefix = args.b if args.b.endswith("/") else args.b + "/"
    want = {}
    for root, _, files in os.walk(args.a):
        for name in files:
            path = os.path.join(root, name)
            want[prefix + os.path.relpath(path, args.a)] = path
    have = list_prefix(s3, prefix)
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    if missing or extra:
        return f"{len(missing)} missing (e.g. {missing[:2]}), {len(extra)} unexpected (e.g. {extra[:2]})"
    bad = []
    for key, path in want.items():
        size, etag = have[key]
        with open(path, "rb") as f:
            data = f.read()
        if size != len(data) or ("-" not in etag and etag != hashlib.md5(data).hexdigest()):
            bad.append(key)
    if bad:
        return f"{len(bad)} objects differ from their files (e.g. {bad[:2]})"
    return None


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["object", "prefix", "count", "delete"])
    parser.add_argument("a")
    parser.add_argument("b", nargs="?")
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--part-size", type=int, default=0)
    ARGS = args = parser.parse_args()
    s3 = client(args)
    if args.command == "object":
        why = check_object(s3, args)
    elif args.command == "prefix":
        why = check_prefix(s3, args)
    elif args.command == "count":
        have = list_prefix(s3, args.a)
        print(f"{len(have)} {sum(size for size, _ in have.values())}")
        return 0
    else:
        keys = list(list_prefix(s3, args.a))
        for i in range(0, len(keys), 1000):
            reply = s3.delete_objects(Bucket=args.bucket,
                                      Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]],
                                              "Quiet": True})
            if reply.get("Errors"):
                why = f"could not delete {len(reply['Errors'])} objects"
                print(f"FAIL: {why}")
                return 1
        print(f"ok deleted {len(keys)}")
        return 0
    if why:
        print(f"FAIL: {why}")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:
        print(f"FAIL: {type(e).__name__}: {e}")
        sys.exit(1)
