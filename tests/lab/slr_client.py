#!/usr/bin/env python3
"""A small HTTP client for the SLR lab: COUNT connections to URL, CONCURRENCY at a time, each a new
TCP connection fetching the whole body. Prints one JSON line: ok, errors (with the first few
reasons), the body's sha256 set, seconds, connections per second.

  slr_client.py --url http://10.200.1.1/index.html --count 1000 --concurrency 16
"""

import argparse
import concurrent.futures
import hashlib
import http.client
import json
import time
import urllib.parse


def fetch(url, timeout):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        c.request("GET", u.path or "/", headers={"Connection": "close"})
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status}")
        return hashlib.sha256(body).hexdigest()
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--timeout", type=float, default=10.0)
    a = ap.parse_args()
    t0 = time.monotonic()
    ok, errors, reasons, digests = 0, 0, [], set()
    with concurrent.futures.ThreadPoolExecutor(a.concurrency) as pool:
        for f in concurrent.futures.as_completed(
                [pool.submit(fetch, a.url, a.timeout) for _ in range(a.count)]):
            try:
                digests.add(f.result())
                ok += 1
            except Exception as e:  # noqa: BLE001 - every failure is counted and reported
                errors += 1
                if len(reasons) < 5:
                    reasons.append(repr(e))
    dt = time.monotonic() - t0
    print(json.dumps({"ok": ok, "errors": errors, "reasons": reasons, "sha256": sorted(digests),
                      "seconds": round(dt, 3), "per_second": round(a.count / dt, 1)}))


if __name__ == "__main__":
    main()
