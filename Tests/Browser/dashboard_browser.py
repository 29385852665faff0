"""Drives three running nodes' dashboards in headless Chromium (Debian's /usr/bin/chromium) with
Playwright, as their people would, and as a hostile web page would.

Usage: dashboard_browser.py ADA_URL ADA_TOKEN BEN_URL BEN_TOKEN CLEO_URL CLEO_TOKEN CLEO_ADDRESS SCREENSHOT_DIR
(each URL as `kith dashboard` prints it, with a single-use #code=…; each TOKEN from the node's
dashboard.token, for the script's own API calls; CLEO_ADDRESS is HOST:PORT of Cleo's node).

Set-up goes through the JSON API with each node's bearer token: Ada and Cleo befriend Ben, and
Ada's AI talks with Cleo's until they agree to connect (both people have policy.connect: ask).
Then, in the browser: Cleo and Ada each approve the introduction on their Requests page and see
the friendship appear on their People pages (which are never reloaded); Ada opens the
transcript and sees its audit badge; Ada chats with Ben's AI herself; Ada changes a memory's
visibility and watches the preview change before saving. Hostile checks: a request without the
token gets 401, a wrong token 401, a page on another origin cannot unfriend through Ada's
cookie (403), and peer-written HTML in names and turns stays text.
Prints one line per check; exits non-zero on the first failure.
"""
import http.server
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request

from playwright.sync_api import expect, sync_playwright

TIMEOUT_MS = 30_000


TOKENS = {}


def split(url):
    base = url.partition("#")[0]
    return base, TOKENS.get(base, "")


def call(url, cmd, fields=None, token=None, stream=False, timeout=60):
    base, tok = split(url)
    req = urllib.request.Request(base + "api/" + cmd, data=json.dumps(fields or {}).encode(), method="POST",
                                 headers={"Authorization": "Bearer " + (token if token is not None else tok),
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            body = res.read().decode()
            status = res.status
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode() or "{}")
    if stream:
        return status, [json.loads(line) for line in body.splitlines() if line]
    return status, json.loads(body)


def ok(url, cmd, fields=None):
    status, body = call(url, cmd, fields)
    assert status == 200 and body.get("ok"), f"{cmd} {fields}: {status} {body}"
    return body["result"]


def wait(predicate, what, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError("timed out: " + what)


def check(name):
    print("ok:", name, flush=True)


def main():
    ada, ada_token, ben, ben_token, cleo, cleo_token, cleo_address, shots = sys.argv[1:9]
    for url, token in ((ada, ada_token), (ben, ben_token), (cleo, cleo_token)):
        TOKENS[split(url)[0]] = token
    os.makedirs(shots, exist_ok=True)
    ids = {name: ok(url, "status")["id"] for name, url in (("ada", ada), ("ben", ben), ("cleo", cleo))}
    ben_port = int(ok(ben, "status")["listen"].rsplit(":", 1)[1])

    # ---- Set-up through the API (bearer token) ----
    assert ok(ada, "connect", {"did": ids["ben"], "host": "127.0.0.1", "port": ben_port})["outcome"] == "pending"
    assert ok(ben, "accept", {"did": ids["ada"]})["outcome"] == "accepted"
    assert ok(cleo, "connect", {"did": ids["ben"], "host": "127.0.0.1", "port": ben_port})["outcome"] == "pending"
    assert ok(ben, "accept", {"did": ids["cleo"]})["outcome"] == "accepted"
    wait(lambda: any(p["relationship"] == "friends" and p["connected"] for p in ok(ada, "peers")), "Ada and Ben connected")
    host, port = cleo_address.rsplit(":", 1)
    status, lines = call(ada, "talk", {"did": ids["cleo"], "host": host, "port": int(port), "topic": "poetry", "turns": 8}, stream=True, timeout=120)
    kinds = [l["event"].get("kind") for l in lines if "event" in l and l["event"]["event"] == "entry"]
    assert status == 200 and "propose" in kinds and "accept" in kinds, f"the AIs did not agree: {kinds}"
    conv = next(l["event"]["conv"] for l in lines if "event" in l and l["event"]["conv"])
    wait(lambda: [r["kind"] for r in ok(cleo, "requests")] == ["introduction"], "Cleo's introduction")
    wait(lambda: [r["kind"] for r in ok(ada, "requests")] == ["introduction"], "Ada's introduction")
    wait(lambda: any(p["id"] == ids["cleo"] for p in ok(ada, "people")["people"]), "Ada knows Cleo's manifest")
    check("set-up: Ada's and Cleo's AIs agreed; each person holds an introduction")

    # ---- Hostile requests without a browser ----
    status, body = call(ada, "status", token="")
    assert status == 401, f"no token: {status}"
    status, body = call(ada, "status", token="A" * 43)
    assert status == 401, f"wrong token: {status}"
    base, _ = split(ada)
    assert urllib.request.urlopen(base, timeout=10).status == 200  # the page itself needs no token
    check("a request without the token, or with a wrong one, gets 401")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"], headless=True)
        try:
            run_browser(browser, ada, cleo, ben, ids, conv, shots)
        finally:
            browser.close()
    print("all browser checks passed", flush=True)


def run_browser(browser, ada, cleo, ben, ids, conv, shots):
    ada_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    cleo_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ada_ctx.set_default_timeout(TIMEOUT_MS)
    cleo_ctx.set_default_timeout(TIMEOUT_MS)
    errors = []
    a = ada_ctx.new_page()
    a.on("pageerror", lambda e: errors.append(str(e)))
    c = cleo_ctx.new_page()
    c.on("pageerror", lambda e: errors.append(str(e)))

    # The address from `kith dashboard` signs the page in once and leaves the address bar.
    a.goto(ada)
    expect(a.locator("#my-did")).to_have_text(ids["ada"])
    assert "code" not in a.url, a.url
    used = browser.new_context().new_page()
    used.goto(ada)  # the same address again, in another browser: refused
    expect(used.locator("#signin")).to_be_visible()
    used.context.close()
    a.screenshot(path=f"{shots}/home.png", full_page=True)
    check("Home shows the did:key; the sign-in code left the address bar and does not work twice")

    # Cleo keeps her People page open (never reloaded) while the friendship forms.
    c.goto(cleo)
    c.goto(split(cleo)[0] + "#/people")
    expect(c.locator("#friends")).to_contain_text("Ben")
    expect(c.locator("#friends")).not_to_contain_text("Ada")

    # Cleo approves on a second tab's Requests page.
    c2 = cleo_ctx.new_page()
    c2.goto(split(cleo)[0] + "#/requests")
    card = c2.locator(f'.request[data-did="{ids["ada"]}"]')
    expect(card).to_contain_text("introduction")
    expect(card).to_contain_text("match")
    c2.screenshot(path=f"{shots}/requests-cleo.png", full_page=True)
    card.locator("button.approve").click()
    expect(c2.locator("#toast")).to_contain_text("")
    check("Cleo approved the introduction in her Requests page")

    # Ada sees Cleo's request arrive live and approves it.
    a.goto(split(ada)[0] + "#/requests")
    card = a.locator(f'.request[data-did="{ids["cleo"]}"]')
    expect(card).to_contain_text("friend request")  # Cleo's approval arrived (live)
    a.screenshot(path=f"{shots}/requests.png", full_page=True)
    card.locator("button.approve").click()
    expect(a.locator("#no-requests")).to_be_visible()
    wait(lambda: any(p["id"] == ids["cleo"] and p["relationship"] == "friends" for p in ok(ada, "peers")), "Ada: friends with Cleo")
    wait(lambda: any(p["id"] == ids["ada"] and p["relationship"] == "friends" for p in ok(cleo, "peers")), "Cleo: friends with Ada")
    expect(c.locator("#friends")).to_contain_text("Ada")  # Cleo's open page updated by itself
    check("both approved: friends on both nodes, and Cleo's open People page showed it without a reload")

    a.goto(split(ada)[0] + "#/people")
    expect(a.locator("#friends")).to_contain_text("Cleo")
    expect(a.locator("svg.graph circle")).to_have_count(3)
    a.screenshot(path=f"{shots}/people.png", full_page=True)
    check("Ada's People page and graph show Ben and Cleo")

    # The transcript with its audit badge, producers and what each turn drew on.
    a.goto(split(ada)[0] + "#/conversations")
    a.locator("#conversations a").first.click()
    expect(a.locator("#audit-badge")).to_have_attribute("data-status", "valid")
    expect(a.locator("#transcript .turn").first).to_contain_text("AI: embedded")
    a.screenshot(path=f"{shots}/conversation.png", full_page=True)
    with a.expect_download() as download:
        a.get_by_text("Export kithlog").click()
    path = download.value.path()
    assert open(path).read().startswith("{"), "the kithlog export is JSON lines"
    check("the transcript shows a valid audit badge, who produced each turn, and exports")

    # Chat with Ben's AI, typed by Ada; Ben's name and turns are text, never markup.
    a.goto(split(ada)[0] + "#/chat")
    a.locator("#chat-with").select_option(ids["ben"])
    a.locator("#chat-topic").fill("<img src=x onerror=\"window.pwned=1\">bread")
    a.locator("#chat-start").click()
    expect(a.locator("#chat-input")).to_be_enabled()
    a.locator("#chat-input").fill("Hello Ben's AI, what are you baking?")
    a.locator("#chat-send").click()
    expect(a.locator("#chat-log .turn")).to_have_count(2, timeout=TIMEOUT_MS)
    expect(a.locator("#chat-input")).to_be_enabled()
    a.screenshot(path=f"{shots}/chat.png", full_page=True)
    a.locator("#chat-input").fill("/close thanks, bye")
    a.locator("#chat-send").click()
    expect(a.locator("#chat-log")).to_contain_text("sealed by both", timeout=TIMEOUT_MS)
    assert a.evaluate("window.pwned") is None, "peer-controlled text ran as HTML"
    check("Ada chatted with Ben's AI herself; the conversation closed and sealed")

    # Identity: change a memory's visibility; the preview changes before saving; saving re-signs.
    a.goto(split(ada)[0] + "#/identity")
    first = a.locator(".memory").first
    text = first.locator(".memory-text").input_value()
    fof = a.locator('.audience[data-audience="friend of a friend"]')
    friend = a.locator('.audience[data-audience="friend"]')
    expect(fof).to_contain_text(text[:40])
    first.locator(".memory-visibility").select_option("private")
    expect(fof).not_to_contain_text(text[:40])
    expect(friend).not_to_contain_text(text[:40])
    a.screenshot(path=f"{shots}/identity.png", full_page=True)
    saved_before = ok(ada, "identity")["profile"]["memories"][0]["visibility"]
    assert saved_before == "public", saved_before  # nothing saved yet
    # A wrong field is shown on the field, and nothing is written.
    a.locator("#f-name").fill("")
    a.locator("#save-identity").click()
    expect(a.locator("#save-error")).to_contain_text("name")
    expect(a.locator("#f-name")).to_have_class("invalid-field")
    a.locator("#f-name").fill("Ada")
    a.locator("#save-identity").click()
    expect(a.locator("#toast")).to_contain_text("Saved")
    assert ok(ada, "identity")["profile"]["memories"][0]["visibility"] == "private"
    check("the preview followed the edit before saving; a bad field was marked; saving re-signed")

    # Another origin (here: another port on loopback, the same site) cannot act in Ada's browser.
    evil = serve_evil_page(split(ada)[0], ids["cleo"])
    statuses = []
    e = ada_ctx.new_page()
    e.on("response", lambda r: statuses.append((r.url, r.status)) if "/api/" in r.url else None)
    e.on("requestfailed", lambda r: statuses.append((r.url, "failed: " + str(r.failure))) if "/api/" in r.url else None)
    e.goto(evil)
    e.wait_for_function("window.done === true")
    # The server answers 403 (its Origin check); Chromium may also block the answer itself
    # (Cross-Origin-Resource-Policy). What matters is below: nothing changed.
    unfriend = [s for u, s in statuses if u.endswith("/api/unfriend")]
    assert unfriend and all(s == 403 or "BLOCKED_BY_RESPONSE" in str(s) for s in unfriend), f"cross-origin POST: {statuses}"
    assert e.evaluate("window.readBack") is None, "a cross-origin page read an API answer"
    assert any(p["id"] == ids["cleo"] and p["relationship"] == "friends" for p in ok(ada, "peers")), "the cross-origin POST unfriended Cleo"
    check("a cross-origin POST from Ada's browser was refused (403) and changed nothing")

    # A fresh browser (no cookie) opening the bare address is told how to sign in; its API calls get 401.
    fresh = browser.new_context()
    f = fresh.new_page()
    f.goto(split(ada)[0])
    expect(f.locator("#signin")).to_be_visible()
    assert f.evaluate("fetch('/api/status', {method: 'POST'}).then(r => r.status)") == 401
    fresh.close()
    check("a browser without the token sees the sign-in help and gets 401")

    assert not errors, f"page errors: {errors}"


def serve_evil_page(target, victim):
    page = f"""<!doctype html><script>
window.done = false;
fetch({json.dumps(target + 'api/unfriend')}, {{method: 'POST', credentials: 'include', mode: 'no-cors',
  headers: {{'Content-Type': 'text/plain'}}, body: JSON.stringify({{did: {json.dumps(victim)}}})}})
  .catch(() => null)
  .then(() => fetch({json.dumps(target + 'api/status')}, {{method: 'POST', credentials: 'include'}}))
  .then(r => r.json()).then(j => {{ window.readBack = j; }}, () => {{}})
  .finally(() => {{ window.done = true; }});
</script>"""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page.encode())

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/"


if __name__ == "__main__":
    main()
