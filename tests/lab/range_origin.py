#!/usr/bin/python3
"""The rim lab's origin (document 000's host "D"): python's http.server serving DIR, answering
single-range requests ("Range: bytes=A-B" or "bytes=A-") with 206 and Content-Range, which its
SimpleHTTPRequestHandler does not, 416 "bytes */SIZE" past the end, 404 for a missing object. Each
request is one line in LOG, "CLIENT METHOD PATH FIRST LAST STATUS" (FIRST/LAST "-" without a
range), written before the body, so a test can see which host asked for which part; the first
line is "ready" once it listens.

    range_origin.py DIR PORT LOG
"""

import http.server
import os
import re
import sys
import threading

ROOT, PORT, LOG = sys.argv[1], int(sys.argv[2]), sys.argv[3]
log = open(LOG, "a", buffering=1)
log_lock = threading.Lock()


def note(*fields):
    with log_lock:
        log.write(" ".join(str(f) for f in fields) + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.answer(body=False)

    def do_GET(self):
        self.answer(body=True)

    def answer(self, body):
        name = self.path.lstrip("/")
        path = os.path.join(ROOT, name)
        if "/" in name or not name or not os.path.isfile(path):
            note(self.client_address[0], self.command, self.path, "-", "-", 404)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        size = os.path.getsize(path)
        first, last, status = 0, size - 1, 200
        asked = self.headers.get("Range")
        if asked:
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", asked.strip())
            if not m:
                self.send_error(400, "one range only")
                return
            first = int(m.group(1))
            last = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
            if first >= size:
                note(self.client_address[0], self.command, self.path, first, "-", 416)
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
        note(self.client_address[0], self.command, self.path, first if asked else "-", last if asked else "-", status)
        self.send_response(status)
        if status == 206:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Content-Length", str(last - first + 1))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if not body:
            return
        with open(path, "rb") as f:
            f.seek(first)
            left = last - first + 1
            while left > 0:
                data = f.read(min(left, 1 << 20))
                if not data:
                    break
                self.wfile.write(data)
                left -= len(data)


server = http.server.ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
server.daemon_threads = True
note("ready")
server.serve_forever()
