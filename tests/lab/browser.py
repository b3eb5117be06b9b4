#!/usr/bin/python3
"""Headless Chromium driven over the DevTools protocol, with nothing but Python's standard library.

Run inside a lab node's network namespace (the consoles listen there), it starts Debian's
`chromium --headless` on a page and answers one JSON command per stdin line with one JSON line on
stdout:
  {"eval": "JS expression"}          -> {"value": ...}   (promises awaited, result by value)
  {"screenshot": "/path/file.png"}   -> {"bytes": N}  (optional "clip": [x, y, w, h, scale])
  {"navigate": "http://..."}         -> {"ok": true}     (returns once the load event fired)
  {"exceptions": true}               -> {"value": [...]} uncaught exceptions since the last navigate
  {"quit": true}                     -> {"ok": true}, then exits
An error in a command answers {"error": "..."}; the browser's own failure ends the process.
Usage: browser.py URL [WIDTHxHEIGHT]
  {"dialogs": true}                  -> {"value": [...]} messages of the dialogs (prompt, confirm)
                                        the page opened so far
Environment: BATON_CONSOLE_TOKEN, when set, is typed into every prompt the page opens (as a person
asked for the console's token would); otherwise prompts are dismissed. The lab's consoles use
the lab's own CA, which Chromium does not know: certificate errors are ignored here (the lab checks
the certificates with curl).
The WebSocket client is the minimum RFC 6455 needs for DevTools: masked text frames out,
unmasked (possibly fragmented) frames in, no extensions.
"""

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

PORT = 9222


class DevTools:
    def __init__(self, ws_url):
        # ws://127.0.0.1:9222/devtools/page/ID
        rest = ws_url.split("://", 1)[1]
        hostport, path = rest.split("/", 1)
        host, port = hostport.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("DevTools closed the connection during the handshake")
            head += chunk
        head, self.buffer = head.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"DevTools refused the WebSocket: {head[:200]!r}")
        self.next_id = 0
        self.events = []
        # A dialog blocks the page (and every Runtime call) until answered: answered as it opens.
        self.prompt_answer = None
        self.dialogs = []
        self.dialog_id = 1 << 30  # ids of our answers, apart from the calls' ids

    def _read(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise RuntimeError("DevTools closed the connection")
            self.buffer += chunk
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def _send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            head = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 1 << 16:
            head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(head + mask + masked)

    def _receive(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            opcode = b0 & 0x0F
            if opcode == 0x8:
                raise RuntimeError("DevTools closed the WebSocket")
            if opcode in (0x9, 0xA):  # ping / pong: DevTools does not send them; ignore
                continue
            message += payload
            if b0 & 0x80:
                return json.loads(message)

    def call(self, method, **params):
        self.next_id += 1
        self._send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            m = self._receive()
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self._note(m)

    def _note(self, m):
        if m.get("method") == "Page.javascriptDialogOpening":
            self.dialogs.append(m.get("params", {}).get("message", ""))
            answer = {"accept": self.prompt_answer is not None}
            if self.prompt_answer is not None:
                answer["promptText"] = self.prompt_answer
            self.dialog_id += 1
            self._send(json.dumps({"id": self.dialog_id, "method": "Page.handleJavaScriptDialog",
                                   "params": answer}))
        self.events.append(m)

    def wait_event(self, method, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for i, e in enumerate(self.events):
                if e.get("method") == method:
                    del self.events[i]
                    return e
            self.sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                self._note(self._receive())
            except socket.timeout:
                break
            finally:
                self.sock.settimeout(30)
        raise RuntimeError(f"no {method} within {timeout} s")


def page_target(timeout=30):
    """The WebSocket address of the browser's first page, once its DevTools endpoint answers."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/json/list", timeout=2) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise RuntimeError(f"chromium's DevTools did not answer on port {PORT}: {last}")


def main():
    url = sys.argv[1]
    width, height = (sys.argv[2] if len(sys.argv) > 2 else "1400x1800").split("x")
    chromium = shutil.which("chromium")
    if not chromium:
        print(json.dumps({"error": "chromium is not installed (apt-get install chromium)"}), flush=True)
        sys.exit(77)
    profile = tempfile.mkdtemp(prefix="baton-chromium-")
    browser = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-extensions", "--disable-background-networking", f"--user-data-dir={profile}",
         "--ignore-certificate-errors",
         f"--remote-debugging-port={PORT}", f"--window-size={width},{height}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        tools = DevTools(page_target())
        tools.call("Page.enable")
        tools.call("Runtime.enable")  # uncaught exceptions arrive as Runtime.exceptionThrown
        tools.prompt_answer = os.environ.get("BATON_CONSOLE_TOKEN")
        tools.call("Page.navigate", url=url)
        # The first page may still be about:blank or loading: wait for URL's load to finish.
        deadline = time.monotonic() + 30
        while True:
            r = tools.call("Runtime.evaluate", returnByValue=True,
                           expression="location.href !== 'about:blank' && document.readyState")
            if r["result"].get("value") == "complete":
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not finish loading within 30 s")
            time.sleep(0.1)
        print(json.dumps({"ready": True}), flush=True)
        for line in sys.stdin:
            command = json.loads(line)
            try:
                if "eval" in command:
                    r = tools.call("Runtime.evaluate", expression=command["eval"],
                                   returnByValue=True, awaitPromise=True)
                    if "exceptionDetails" in r:
                        answer = {"error": r["exceptionDetails"].get("exception", {}).get(
                            "description", r["exceptionDetails"].get("text", "exception"))}
                    else:
                        answer = {"value": r["result"].get("value")}
                elif "screenshot" in command:
                    params = {"format": "png"}
                    if "clip" in command:  # [x, y, width, height, scale]
                        x, y, w, h, scale = command["clip"]
                        params["clip"] = {"x": x, "y": y, "width": w, "height": h, "scale": scale}
                    data = base64.b64decode(tools.call("Page.captureScreenshot", **params)["data"])
                    with open(command["screenshot"], "wb") as f:
                        f.write(data)
                    answer = {"bytes": len(data)}
                elif "navigate" in command:
                    tools.events.clear()
                    tools.call("Page.navigate", url=command["navigate"])
                    tools.wait_event("Page.loadEventFired", 30)
                    answer = {"ok": True}
                elif "exceptions" in command:
                    # Uncaught exceptions the page threw so far (events read while waiting for
                    # answers, plus any already waiting on the socket).
                    tools.call("Runtime.evaluate", expression="0")
                    thrown = [e["params"]["exceptionDetails"] for e in tools.events
                              if e.get("method") == "Runtime.exceptionThrown"]
                    answer = {"value": [d.get("exception", {}).get("description", d.get("text", ""))
                                        for d in thrown]}
                elif "dialogs" in command:
                    tools.call("Runtime.evaluate", expression="0")  # read what is waiting
                    answer = {"value": tools.dialogs}
                elif "quit" in command:
                    print(json.dumps({"ok": True}), flush=True)
                    break
                else:
                    answer = {"error": f"unknown command {sorted(command)}"}
            except RuntimeError as e:
                answer = {"error": str(e)}
            print(json.dumps(answer), flush=True)
    finally:
        browser.terminate()
        try:
            browser.wait(10)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
