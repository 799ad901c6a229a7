"""Shared by the Python tests of tests/scripts (test_statuspage.py,
test_grafana_dashboard.py): what each would otherwise write again. One test
is one process, so the tally of checks lives here.

  skip(why)               SKIP: why, exit 77; under CI=true FAIL: why, exit 1
  check(what, ok, detail) "ok   what", or "FAIL what: detail" (counted)
  failures()              how many checks have failed so far
  finish()                "P passed, F failed"; exits 1 if any failed, else 0
  free_port()             a free TCP port on 127.0.0.1
  print_tail(path, chars) the last chars of a log, under "---- NAME", if it exists
"""
import os
import socket
import sys

_passed = 0
_failed = 0


def skip(why):
    if os.environ.get("CI") == "true":
        print(f"FAIL: {why}")
        sys.exit(1)
    print(f"SKIP: {why}")
    sys.exit(77)


def check(what, ok, detail=""):
    global _passed, _failed
    if ok:
        _passed += 1
        print(f"ok   {what}")
    else:
        _failed += 1
        print(f"FAIL {what}{': ' + str(detail) if detail else ''}")


def failures():
    return _failed


def finish():
    print(f"{_passed} passed, {_failed} failed")
    sys.exit(1 if _failed else 0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def print_tail(path, chars):
    if os.path.exists(path):
        print(f"---- {os.path.basename(path)}")
        with open(path, errors="replace") as f:
            print(f.read()[-chars:])
