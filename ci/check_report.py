#!/usr/bin/env python3
"""Opens the executive report in headless Chromium and fails on anything a reader would hit.

Builds a demo warehouse in a temporary folder (conveyor generate → ingest → marts →
forecast → report, in Japanese and in English), opens each report over
file:// in headless Chromium driven through the DevTools protocol, and fails if

  * any console error, uncaught exception or Log entry of level "error" appears,
  * any request goes anywhere but file: or data: (the report must be self-contained),
  * the page does not load, or shows no numbers,
  * a section is missing (the relationship sections too: NPS, 1-3-2, subscriptions and the
    fan-matrix movement, each with a chart drawn at a visible size), or the backtest section ("how well this forecast did on your own
    past", fed by forecast_validation) shows no backtest although the demo history is long
    enough for one.

It saves an A4-wide screenshot (target/report-ja.png, target/report-en.png) and an A4 PDF
print (target/report-ja.pdf, …) to look at. It never skips: a missing browser is an error.

usage: python3 ci/check_report.py            (from the repository root or anywhere)
env:   CONVEYOR  path of a built conveyor binary (default: cargo build, then target/debug)
       CHROMIUM  browser binary (default: chromium, chromium-browser or google-chrome)
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # websocket-client, pinned in ci/requirements.txt

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "target")
A4_WIDTH_PX = 794  # 210 mm at 96 px per inch
A4_HEIGHT_PX = 1123
CALL_TIMEOUT_S = 180
# The report's sections, in order (pipeline/templates/report.html).
SECTIONS = ["answer", "kpis", "sales", "reach", "sweep", "retention", "fan", "f2",
            "nps", "rule132", "subscriptions", "movement", "validation", "assumptions"]
# The relationship sections (issue #17), shown because the demo generates and ingests all
# five datasets: each must draw a chart of visible size.
RELATIONSHIP_SECTIONS = ["nps", "rule132", "subscriptions", "movement"]


def fail(msg):
    print(f"check_report: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def conveyor_binary():
    if os.environ.get("CONVEYOR"):
        return os.environ["CONVEYOR"]
    subprocess.run(["cargo", "build", "-q", "-p", "pipeline", "--bin", "conveyor"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "debug", "conveyor")


def run(cmd):
    print("+", " ".join(cmd), file=sys.stderr)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def build_reports(conveyor, tmp):
    src, wh = os.path.join(tmp, "exports"), os.path.join(tmp, "warehouse")
    common = ["--source", src, "--warehouse", wh]
    run([conveyor, "generate", "--orders", "20000", "--months", "24", "--bad-share", "0.001", "--seed", "3", *common])
    run([conveyor, "ingest", *common])
    run([conveyor, "marts", *common])
    run([conveyor, "forecast", "--paths", "2000", *common])
    reports = {}
    for lang in ("ja", "en"):
        out = os.path.join(tmp, f"report-{lang}.html")
        run([conveyor, "report", "--lang", lang, "--out", out, *common])
        reports[lang] = out
    return reports


def find_chromium():
    for name in filter(None, [os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"]):
        path = shutil.which(name)
        if path:
            return path
    fail("no chromium binary found (ci/setup.sh installs the Debian package `chromium`)")


class Browser:
    """One headless Chromium with one page, spoken to over the DevTools protocol."""

    def __init__(self, binary, profile):
        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        port_file = os.path.join(profile, "DevToolsActivePort")
        deadline = time.time() + 60
        while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
            if self.proc.poll() is not None:
                fail(f"chromium exited {self.proc.returncode}: {self.proc.stderr.read()}")
            if time.time() > deadline:
                fail("chromium did not open its DevTools port within 60 s")
            time.sleep(0.2)
        port = open(port_file).read().split()[0]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            pages = [t for t in json.load(r) if t["type"] == "page"]
        if not pages:
            fail("chromium has no page target")
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        """Sends one command and waits for its answer (up to CALL_TIMEOUT_S; printing a PDF on a
        busy 2-core CI machine takes seconds). wait_for and drain shorten the socket timeout, so it
        is set again here on every call."""
        self.next_id += 1
        my_id = self.next_id
        self.ws.settimeout(CALL_TIMEOUT_S)
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            try:
                msg = json.loads(self.ws.recv())
            except (websocket.WebSocketTimeoutException, TimeoutError):
                fail(f"{method}: no answer from chromium within {CALL_TIMEOUT_S} s")
            if msg.get("id") == my_id:
                if "error" in msg:
                    fail(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, event, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            for e in self.events:
                if e["method"] == event:
                    return
            self.ws.settimeout(max(0.1, deadline - time.time()))
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                break
            if "method" in msg:
                self.events.append(msg)
        fail(f"no {event} within {seconds} s")

    def drain(self, seconds):
        """Collects events for a little while (late console messages, late requests)."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            self.ws.settimeout(max(0.05, deadline - time.time()))
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                return
            if "method" in msg:
                self.events.append(msg)

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def problems(events):
    out = []
    for e in events:
        m, p = e["method"], e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(f"console.{p['type']}: {[a.get('value', a.get('description')) for a in p.get('args', [])]}")
        elif m == "Runtime.exceptionThrown":
            out.append(f"exception: {p.get('exceptionDetails', {}).get('text')}")
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            out.append(f"log error: {p['entry'].get('text')} ({p['entry'].get('url', '')})")
        elif m == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not (url.startswith("file:") or url.startswith("data:")):
                out.append(f"network request to {url}")
        elif m == "Network.loadingFailed":
            out.append(f"failed to load: {p.get('errorText')}")
    return out


def check(browser, lang, path):
    browser.events.clear()
    browser.call("Emulation.setDeviceMetricsOverride", width=A4_WIDTH_PX, height=A4_HEIGHT_PX,
                 deviceScaleFactor=1, mobile=False)
    nav = browser.call("Page.navigate", url="file://" + os.path.abspath(path))
    if nav.get("errorText"):
        fail(f"{lang}: navigation failed: {nav['errorText']}")
    browser.wait_for("Page.loadEventFired", 60)
    browser.drain(1.0)
    found = problems(browser.events)
    if found:
        fail(f"{lang} report:\n  " + "\n  ".join(found))
    numbers = browser.call("Runtime.evaluate", expression="document.querySelectorAll('[data-metric]').length",
                           returnByValue=True)["result"]["value"]
    lang_attr = browser.call("Runtime.evaluate", expression="document.documentElement.lang",
                             returnByValue=True)["result"]["value"]
    no_forecast = browser.call("Runtime.evaluate", expression="document.querySelectorAll('[data-state=no-forecast]').length",
                               returnByValue=True)["result"]["value"]
    if no_forecast:
        fail(f"{lang} report: the forecast sections are empty although `conveyor forecast` ran")
    if numbers < 20 or lang_attr != lang:
        fail(f"{lang} report: {numbers} numbers shown, lang={lang_attr!r}")
    sections = browser.call("Runtime.evaluate",
                            expression="Array.from(document.querySelectorAll('body > section')).map(s => s.id)",
                            returnByValue=True)["result"]["value"]
    if sections != SECTIONS:
        fail(f"{lang} report: sections {sections}, expected {SECTIONS}")
    for sec in RELATIONSHIP_SECTIONS:
        drawn = browser.call("Runtime.evaluate",
                             expression=f"Array.from(document.querySelectorAll('#{sec} svg'))"
                                        ".filter(s => s.getBoundingClientRect().height > 50).length",
                             returnByValue=True)["result"]["value"]
        if not drawn:
            fail(f"{lang} report: the {sec} section draws no chart")
    backtests = browser.call("Runtime.evaluate",
                             expression="document.querySelectorAll('#validation tr[data-key] [data-metric]').length",
                             returnByValue=True)["result"]["value"]
    if not backtests:
        fail(f"{lang} report: the backtest section shows no backtest (is forecast_validation published?)")
    metrics = browser.call("Page.getLayoutMetrics")
    height = int(metrics.get("cssContentSize", metrics.get("contentSize"))["height"])
    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                        clip={"x": 0, "y": 0, "width": A4_WIDTH_PX, "height": height, "scale": 1})
    png = os.path.join(OUT_DIR, f"report-{lang}.png")
    with open(png, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    pdf = browser.call("Page.printToPDF", paperWidth=8.27, paperHeight=11.69, printBackground=True,
                       preferCSSPageSize=True)
    pdf_path = os.path.join(OUT_DIR, f"report-{lang}.pdf")
    with open(pdf_path, "wb") as f:
        f.write(base64.b64decode(pdf["data"]))
    browser.drain(0.5)
    found = problems(browser.events)
    if found:
        fail(f"{lang} report (while printing):\n  " + "\n  ".join(found))
    print(f"check_report: {lang}: {numbers} numbers ({backtests} in the backtests), no errors, no requests; {png} ({height}px), {pdf_path}")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    conveyor = conveyor_binary()
    chromium = find_chromium()
    with tempfile.TemporaryDirectory(prefix="check_report.") as tmp:
        reports = build_reports(conveyor, tmp)
        profile = os.path.join(tmp, "chromium-profile")
        os.makedirs(profile)
        browser = Browser(chromium, profile)
        try:
            browser.call("Runtime.enable")
            browser.call("Log.enable")
            browser.call("Network.enable")
            browser.call("Page.enable")
            for lang, path in reports.items():
                check(browser, lang, path)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
