#!/usr/bin/env python3
"""Sorts ThreadSanitizer reports from a lab run (tests/lab/tsan_lab) into baton's races and CAF's
hand-overs, and fails on the first kind.

Debian's CAF 0.17.6 is not built with -fsanitize=thread, so TSan cannot see the atomics its
mailboxes hand a message (or a newly spawned actor) over with: every message whose contents one
thread built and another read looks like a race. Such a report always has CAF's code as one side
(CAF's inline header code compiled into batond, or its library), or a side TSan has no stack for
(the access ran in uninstrumented code). A data race is baton's when both of its accesses were made
in baton's own source (the first frame that is not the C++ library's or the sanitizer's lies under
actors/, net/ or policy/): that is a race between two of our threads, which no CAF hand-over
explains, and it fails the run. Every other kind of report (use after free, lock order, ...) fails
too.

  tsan_reports.py REPORT_DIR REPO_ROOT     prints one line per report, exit 1 if any is baton's
"""

import os
import re
import sys

FRAME = re.compile(r"^\s+#\d+ (.*?) (\S+?)(?::\d+)?(?::\d+)? \(")
ACCESS = re.compile(r"^  (Read|Write|Atomic read|Atomic write|Previous read|Previous write|"
                    r"Previous atomic read|Previous atomic write) of size")


def owner(frames, repo):
    """'baton', 'caf' or 'unknown': whose code made an access, by its first frame that is not the
    C++ library's or the sanitizer's."""
    for func, path in frames:
        if "libsanitizer" in path or "/usr/include/c++/" in path or path.startswith("<null>"):
            if "libcaf" in path or func.startswith("caf::"):
                return "caf"
            continue
        if path.startswith(repo + "/"):
            rel = path[len(repo) + 1:]
            return "baton" if rel.split("/")[0] in ("actors", "net", "policy") else "unknown"
        if "/caf/" in path or "libcaf" in path:
            return "caf"
        return "unknown"
    return "unknown"


def reports(text):
    for block in text.split("==================\nWARNING: ThreadSanitizer: ")[1:]:
        kind = block.split(" (pid=")[0]
        sides, current = [], None
        for line in block.splitlines():
            if ACCESS.match(line):
                current = []
                sides.append(current)
            elif line.startswith("  ") and not line.startswith("    "):
                current = None  # Location, Mutex, Thread sections
            elif current is not None:
                m = FRAME.match(line)
                if m:
                    current.append((m.group(1), m.group(2)))
        summary = next((l for l in block.splitlines() if l.startswith("SUMMARY:")), kind)
        yield kind, sides, summary


def main():
    directory, repo = sys.argv[1], os.path.realpath(sys.argv[2])
    ours = hand_overs = 0
    for name in sorted(os.listdir(directory)):
        with open(os.path.join(directory, name), errors="replace") as f:
            for kind, sides, summary in reports(f.read()):
                whose = [owner(s, repo) for s in sides]
                baton = kind != "data race" or (len(whose) == 2 and whose == ["baton", "baton"])
                ours += baton
                hand_overs += not baton
                print(f"{'FAIL' if baton else 'caf '} {name}: {kind}, accesses by "
                      f"{' and '.join(whose) or 'nobody'}: {summary[:160]}")
    print(f"{ours} report(s) of baton's own races, {hand_overs} of CAF's uninstrumented hand-overs")
    return 1 if ours else 0


if __name__ == "__main__":
    sys.exit(main())
