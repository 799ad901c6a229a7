#!/usr/bin/python3
"""contrib/grafana/vigil.json against the real metric names: every PromQL
expression of the dashboard (its panels' targets and its variables' queries),
with Grafana's variables replaced by values Prometheus accepts, is written as
a recording rule into a rules file that `promtool check rules` must parse;
and every metric name those expressions use must be one a live
vigil-supervisor serves on /metrics (one worker registered, so that the
per-worker series exist), or one of Prometheus's own series (up). Also: the
dashboard has the panels the README promises, unique panel ids, and every
panel on the dashboard's datasource variable.

Usage: test_grafana_dashboard.py DASHBOARD.json SUPERVISOR WORKER
Exit: 0 passed, 1 failed, 77 skipped (no promtool); under CI=true a missing
promtool fails."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from vigiltest import check, failures, finish, free_port, print_tail, skip  # noqa: E402

dashboard_path, supervisor_bin, worker_bin = sys.argv[1:4]
# Series Prometheus makes itself for each target, not the supervisor.
PROMETHEUS_OWN = {"up"}
# Grafana's variables, as Prometheus would receive them with "All" selected.
VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "6h",
             "$instance": ".*", "$worker": ".*"}

if shutil.which("promtool") is None:
    skip("promtool is not installed (Debian package prometheus; scripts/deps test)")

dash = json.load(open(dashboard_path))
panels = []
for p in dash["panels"]:
    panels.append(p)
    panels.extend(p.get("panels", []))

# Every expression, with where it came from.
exprs = []
for p in panels:
    for t in p.get("targets", []):
        exprs.append((f"panel '{p['title']}' {t['refId']}", t["expr"]))
for v in dash["templating"]["list"]:
    if v["type"] == "query":
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q)
        check(f"variable {v['name']}: a label_values(SELECTOR, LABEL) query", m is not None, q)
        if m:
            exprs.append((f"variable {v['name']}", m.group(1)))


def substitute(expr):
    for k in sorted(VARIABLES, key=len, reverse=True):
        expr = expr.replace(k, VARIABLES[k])
    left = re.findall(r"\$\w+", expr)
    return expr, left


work = tempfile.mkdtemp(prefix="vigil-grafana.")
procs = []
try:
    # 1. promtool parses every expression, as recording rules.
    rules = os.path.join(work, "dashboard.rules.yml")
    with open(rules, "w") as f:
        f.write("groups:\n  - name: grafana-dashboard\n    rules:\n")
        for i, (where, e) in enumerate(exprs):
            e, left = substitute(e)
            check(f"{where}: no variable left unreplaced", not left, left)
            f.write(f"      - record: vigil:dashboard:expr{i}\n        expr: {json.dumps(e)}\n")
    r = subprocess.run(["promtool", "check", "rules", rules], capture_output=True, text=True)
    check(f"promtool check rules parses all {len(exprs)} expressions", r.returncode == 0,
          r.stdout + r.stderr)

    # 2. The metric names they use, against a live /metrics.
    port = free_port()
    sock = os.path.join(work, "supervisor.sock")
    log = open(os.path.join(work, "daemons.log"), "ab")
    procs.append(subprocess.Popen([supervisor_bin, "--socket", sock, "--control",
                                   os.path.join(work, "control.sock"), "--timeout", "2s",
                                   "--metrics", f"127.0.0.1:{port}"], stdout=log, stderr=log))
    live = ""
    for _ in range(100):
        time.sleep(0.05)
        if len(procs) == 1 and os.path.exists(sock):
            procs.append(subprocess.Popen([worker_bin, "--name", "w1", "--supervisor", sock,
                                           "--socket", os.path.join(work, "w1.sock"), "--interval",
                                           "100ms"], stdout=log, stderr=log))
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                live = resp.read().decode()
        except OSError:
            continue
        if 'vigil_worker_up{worker="w1"}' in live:
            break
    check("a live /metrics with worker w1", 'vigil_worker_up{worker="w1"}' in live)
    served = {line.split("{")[0].split(" ")[0] for line in live.splitlines()
              if line and not line.startswith("#")}

    keywords = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
                "or", "unless", "offset", "inf", "nan"}
    used = set()
    for where, e in exprs:
        e, _ = substitute(e)
        bare = re.sub(r'"(?:[^"\\]|\\.)*"', '""', e)           # strings
        bare = re.sub(r"\{[^}]*\}", "", bare)                    # label matchers
        bare = re.sub(r"\[[^\]]*\]", "", bare)                   # ranges
        bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", bare)
        for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", bare):
            name = m.group(0)
            after = bare[m.end():].lstrip()
            if after.startswith("(") or name.lower() in keywords:
                continue  # a function or a keyword
            used.add(name)
            check(f"{where}: {name} is served by vigil-supervisor",
                  name in served or name in PROMETHEUS_OWN, sorted(served)[:5])
    vigil_names = {n for n in served if n.startswith("vigil_")}
    print(f"     {len(used)} metric names used of {len(vigil_names)} served; not shown: "
          f"{' '.join(sorted(vigil_names - used)) or 'none'}")

    # 3. The dashboard's shape: what the README says it shows.
    titles = [p["title"] for p in panels]
    for want in ("Workers by state", "Silence / timeout", "Timeouts", "Restarts",
                 "Invalid datagrams by reason", "Worst timer lateness", "Stalls and pause graces"):
        check(f"a panel '{want}'", want in titles, titles)
    ids = [p["id"] for p in panels]
    check("panel ids are unique", len(ids) == len(set(ids)), ids)
    check("every panel with queries uses the datasource variable",
          all(p["datasource"]["uid"] == "${datasource}" for p in panels if p.get("targets")))
finally:
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    if failures():
        print_tail(os.path.join(work, "daemons.log"), 2000)
    shutil.rmtree(work, ignore_errors=True)

finish()
