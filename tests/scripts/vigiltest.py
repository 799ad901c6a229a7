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
import errno
import os
import random
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


def free_ports(n):
    """n distinct TCP ports free on 127.0.0.1 now, outside the ephemeral range.

    A port the kernel hands out for bind(0) comes from the range it also
    gives every outgoing connection (a curl, an etcdctl) a source port from:
    between our close and the daemon's bind one of those took it once, and
    etcd failed with "address already in use". Outside that range only a
    listener asking for the very port can take it. Where nothing is left
    outside it, bind(0) as before; an error other than EADDRINUSE is raised.
    """
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low, high = (int(x) for x in f.read().split())
    candidates = [range(1024, low), range(high + 1, 65536)]
    candidates = [r for r in candidates if len(r) > 0]
    held, ports = [], []
    try:
        for _ in range(10000):
            if len(ports) == n or not candidates:
                break
            r = random.choice(candidates)
            port = random.choice(r)
            if port in ports:
                continue
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
            except OSError as e:
                s.close()
                if e.errno != errno.EADDRINUSE:
                    raise
                continue
            held.append(s)
            ports.append(port)
        while len(ports) < n:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            held.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in held:
            s.close()
    return ports


def free_port():
    return free_ports(1)[0]


def print_tail(path, chars):
    if os.path.exists(path):
        print(f"---- {os.path.basename(path)}")
        with open(path, errors="replace") as f:
            print(f.read()[-chars:])
