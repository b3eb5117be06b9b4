#!/usr/bin/python3
"""An upload sink for the labs: on each TCP connection to PORT it reads until the client shuts its
side down, then answers one line of JSON with the sha256 and length of what arrived, and closes.

    upload_sink.py PORT        (listens on every address; one thread per connection)
"""

import hashlib
import json
import socket
import sys
import threading


def serve(conn):
    with conn:
        h = hashlib.sha256()
        n = 0
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            h.update(chunk)
            n += len(chunk)
        conn.sendall((json.dumps({"sha256": h.hexdigest(), "bytes": n}) + "\n").encode())


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", int(sys.argv[1])))
    s.listen(64)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
