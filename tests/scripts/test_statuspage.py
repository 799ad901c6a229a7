#!/usr/bin/python3
"""The status page (GET / on --metrics) in a real browser: headless Chromium
driven by Selenium (Debian's chromium, chromium-driver, python3-selenium)
loads it from a live supervisor with two workers and a sender whose STATUS=
text holds markup; a worker is killed and the page's DOM must show it dead
within two seconds of the supervisor saying so, with no reload. Also: the
page loads nothing from elsewhere, shows STATUS= as text, sorts by a clicked
column, and says so when the supervisor goes away. A screenshot of the page
with the dead worker is saved as BUILD_DIR/statuspage.png for a person.

Usage: test_statuspage.py SUPERVISOR WORKER OUT_DIR
Exit: 0 passed, 1 failed, 77 skipped (no Chromium or Selenium); under
CI=true a missing tool fails."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from vigiltest import check, failures, finish, free_port, print_tail, skip  # noqa: E402

supervisor_bin, worker_bin, out_dir = sys.argv[1:4]
TIMEOUT_MS = 1000
LAG_MAX_S = 2.0  # the page's poll period (1 s) plus a margin for a loaded machine


try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:
    skip("python3-selenium is missing (scripts/deps test installs it)")
for tool in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
    if not os.access(tool, os.X_OK):
        skip(f"{tool} is missing (scripts/deps test installs chromium and chromium-driver)")


def wait_until(seconds, pred):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            if pred():
                return True
        except Exception:  # the page or the endpoint between two states
            pass
        time.sleep(0.05)
    return False


work = tempfile.mkdtemp(prefix="vigil-statuspage.")
port = free_port()
base = f"http://127.0.0.1:{port}"
procs = []
driver = None


def start(argv, log):
    p = subprocess.Popen(argv, stdout=open(os.path.join(work, log), "ab"), stderr=subprocess.STDOUT)
    procs.append(p)
    return p


def status():
    with urllib.request.urlopen(base + "/status", timeout=5) as r:
        return {w["name"]: w for w in json.load(r)["workers"]}


def dom_state(name):
    rows = driver.find_elements(By.CSS_SELECTOR, f'tr[data-name="{name}"]')
    return rows[0].get_attribute("data-state") if rows else None


try:
    sock = os.path.join(work, "supervisor.sock")
    sv = start([supervisor_bin, "--socket", sock, "--control", os.path.join(work, "control.sock"),
                "--timeout", f"{TIMEOUT_MS}ms", "--metrics", f"127.0.0.1:{port}"], "supervisor.log")
    if not wait_until(5, lambda: status() is not None):
        raise SystemExit(f"FAIL: the supervisor does not serve {base}/status")
    workers = {}
    for name in ("web-1", "web-2"):
        workers[name] = start([worker_bin, "--name", name, "--supervisor", sock, "--socket",
                               os.path.join(work, name + ".sock"), "--interval", "200ms"], "worker.log")
    # A sender of its own, whose STATUS= text is markup: shown as text, never run.
    tx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    tx.sendto(b"HEARTBEAT=1\nWORKER=batch\nSTATUS=<b>42</b> jobs <img src=x>\nINTERVAL_MS=60000\n", sock)
    check("both workers alive in /status", wait_until(5, lambda: all(
        status().get(n, {}).get("state") == "alive" for n in workers)))

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--user-data-dir={work}/chromium", "--window-size=1280,720"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.get(base + "/")
    check("the page shows web-1 and web-2 alive",
          wait_until(5, lambda: dom_state("web-1") == "alive" and dom_state("web-2") == "alive"),
          f"web-1 {dom_state('web-1')}, web-2 {dom_state('web-2')}")
    check("the title says how many workers", "3 workers" in driver.title, driver.title)

    # Self-contained: every resource the page loaded came from the endpoint itself.
    urls = driver.execute_script(
        "return [location.href].concat(performance.getEntriesByType('resource').map(e => e.name))")
    check("nothing loaded from elsewhere", all(u.startswith(base + "/") for u in urls), urls)
    cell = driver.find_element(By.CSS_SELECTOR, 'tr[data-name="batch"] td.status')
    check("STATUS= text shown as text", cell.text == "<b>42</b> jobs <img src=x>", cell.text)
    check("... and never as markup", not cell.find_elements(By.CSS_SELECTOR, "*"))
    sil = driver.find_element(By.CSS_SELECTOR, 'tr[data-name="web-1"] td.silence').text
    check("silence against the timeout", sil.endswith(" / 1.00 s"), sil)
    pid = driver.find_element(By.CSS_SELECTOR, 'tr[data-name="web-1"] td.pid').text
    check("web-1's pid", pid == str(workers["web-1"].pid), pid)

    def names():
        return [r.get_attribute("data-name") for r in driver.find_elements(By.CSS_SELECTOR, "#rows tr")]

    check("sorted by name", names() == ["batch", "web-1", "web-2"], names())
    driver.find_element(By.CSS_SELECTOR, 'th[data-key="name"]').click()
    check("a click on the column reverses it", names() == ["web-2", "web-1", "batch"], names())

    # Kill web-1: the supervisor declares it dead, and the page follows without a reload.
    driver.execute_script("window.vigilLoaded = 1")
    t_kill = time.monotonic()
    workers["web-1"].send_signal(signal.SIGKILL)
    workers["web-1"].wait()
    seen = {}

    def both_dead():
        now = time.monotonic()
        if "status" not in seen and status()["web-1"]["state"] == "dead":
            seen["status"] = now
        if "dom" not in seen and dom_state("web-1") == "dead":
            seen["dom"] = now
        return len(seen) == 2

    wait_until(TIMEOUT_MS / 1000 + LAG_MAX_S + 3, both_dead)
    check("the page shows web-1 dead", "dom" in seen, dom_state("web-1"))
    if len(seen) == 2:
        lag = seen["dom"] - seen["status"]
        print(f"     dead in /status {seen['status'] - t_kill:.2f}s after the kill "
              f"(timeout {TIMEOUT_MS}ms), on the page {seen['dom'] - t_kill:.2f}s: {lag:.2f}s later")
        check(f"the page shows it within {LAG_MAX_S}s of the supervisor", lag <= LAG_MAX_S, lag)
    check("without a reload", driver.execute_script("return window.vigilLoaded") == 1)
    check("web-2 still alive on the page", dom_state("web-2") == "alive")
    state_cell = driver.find_element(By.CSS_SELECTOR, 'tr[data-name="web-1"] td.state')
    colour = state_cell.value_of_css_property("color")
    alive_colour = driver.find_element(By.CSS_SELECTOR, 'tr[data-name="web-2"] td.state'
                                       ).value_of_css_property("color")
    check("dead and alive in different colours", colour != alive_colour, (colour, alive_colour))
    driver.find_element(By.CSS_SELECTOR, 'th[data-key="state"]').click()
    check("sorted by state, the worst first", names()[0] in ("web-1", "batch") and names()[-1] == "web-2",
          names())
    summary = driver.find_element(By.ID, "summary").text
    check("the summary counts states", "1 alive" in summary and "dead" in summary, summary)
    shot = os.path.join(out_dir, "statuspage.png")
    driver.save_screenshot(shot)
    print(f"     screenshot: {shot}")

    # The supervisor goes away: the page says so, and keeps the last answer.
    sv.send_signal(signal.SIGTERM)
    sv.wait()
    check("the page says the supervisor cannot be reached", wait_until(
        5, lambda: driver.find_element(By.ID, "conn").get_attribute("data-ok") == "false"))
    check("... and keeps the last rows", dom_state("web-2") == "alive")
    check("the supervisor exited cleanly", sv.returncode == 0, sv.returncode)
finally:
    if driver is not None:
        driver.quit()
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    if failures():
        for log in ("supervisor.log", "worker.log"):
            print_tail(os.path.join(work, log), 3000)
    shutil.rmtree(work, ignore_errors=True)

finish()
