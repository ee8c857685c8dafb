"""A user works through every page of the dashboard in headless chromium.

Run by tests/tests/dashboard.rs, which starts the server, prepares what the pages show
and passes it in KEYWARDEN_* variables. Prints the screenshot paths; exits non-zero
(an AssertionError or Playwright's TimeoutError) when the page does not show what it
should.
"""

import json
import os
import re
import sys
from urllib.parse import urlparse

from common import VIEWPORT, launch, sign_in, sync_playwright

ENV = os.environ
BASE = ENV["KEYWARDEN_BASE"]
ARTIFACTS = ENV["KEYWARDEN_ARTIFACTS"]
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")

screenshots = []


def check_layout(page, name):
    """No horizontal scroll at 1280x800, and a screenshot."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, f"{name}: page is {width}px wide at a 1280px viewport"
    path = os.path.join(ARTIFACTS, f"{name}.png")
    page.screenshot(path=path, full_page=True)
    screenshots.append(path)


def renders(page):
    return int(page.get_attribute("body", "data-renders") or 0)


def rendered(page, before, ready):
    """Waits until the page has rendered once more than `before`, as page `ready`."""
    page.wait_for_function(
        "([n, ready]) => Number(document.body.dataset.renders || 0) > n"
        " && document.body.dataset.ready === ready", arg=[before, ready])


def goto(page, hash_, ready):
    before = renders(page)
    page.evaluate("h => { location.hash = h; }", hash_)
    rendered(page, before, ready)


def click_to(page, selector, ready):
    """Clicks something that changes the page, and waits for the new page."""
    before = renders(page)
    page.click(selector)
    rendered(page, before, ready)


def tab_order(page, count):
    """The accessible names focus lands on, pressing Tab `count` times from the top."""
    page.focus("a.skip")
    names = []
    for _ in range(count):
        page.keyboard.press("Tab")
        names.append(page.evaluate(
            "(() => { const e = document.activeElement;"
            " return (e.getAttribute('aria-label') || e.textContent || e.id || e.tagName).trim(); })()"))
    return names


def expect_in_order(names, wanted, where):
    at = 0
    for name in names:
        if at < len(wanted) and name == wanted[at]:
            at += 1
    assert at == len(wanted), f"{where}: Tab reached {names}, wanted {wanted} in order"


def login_and_headers(page):
    response = page.goto(f"{BASE}/ui")
    assert response.url.endswith("/ui/"), response.url
    headers = response.headers
    assert headers.get("content-security-policy") == CSP, headers
    assert headers.get("x-content-type-options") == "nosniff", headers
    assert headers.get("referrer-policy") == "no-referrer", headers
    page.wait_for_selector("body[data-ready=login]")
    check_layout(page, "login")
    # A wrong token: the server's 401 words, and no way in.
    page.fill("#token", "not-a-token")
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#error:not([hidden])")
    assert "401" in page.inner_text("#error"), page.inner_text("#error")
    assert page.evaluate("sessionStorage.getItem('keywarden.token')") is None
    page.fill("#token", ENV["KEYWARDEN_ADMIN_TOKEN"])
    page.click("form.login button[type=submit]")
    page.wait_for_selector("body[data-ready=configs]")


def create_and_run(page):
    """Creates a hello config in the form, runs it, follows the job to its end."""
    page.click("#new-config")
    page.wait_for_selector("#config-form")
    page.fill("#f-name", "dash-hello")
    page.fill("#f-operation", "hello")
    page.fill("#f-run_at", "0 3 * * *")
    page.fill("#f-params", json.dumps({"name": "Ada", "repeat": 10, "delay_ms": 4000}))
    check_layout(page, "config-form")
    page.click("#save-config")
    row = page.wait_for_selector("tr[data-name='dash-hello']")
    assert "hello" in row.inner_text()
    # Next run shown, and pause works.
    row.query_selector("button.toggle").click()
    page.wait_for_selector("tr[data-name='dash-hello'] button.toggle:text-is('Resume')")
    page.click("tr[data-name='dash-hello'] button.toggle")
    page.wait_for_selector("tr[data-name='dash-hello'] button.toggle:text-is('Pause')")
    check_layout(page, "configs")
    # Edit: a bad schedule is refused naming run_at, a good one is saved.
    click_to(page, "tr[data-name='dash-hello'] a:text-is('Edit')", "configs")
    page.fill("#f-run_at", "not a cron")
    page.click("#save-config")
    page.wait_for_selector("#error:not([hidden])")
    error = page.inner_text("#error")
    assert "400" in error and "field: run_at" in error, error
    assert page.evaluate("document.activeElement.id") == "f-run_at", "focus goes to the field at fault"
    check_layout(page, "config-edit-refused")
    page.fill("#f-run_at", "0 4 * * *")
    page.click("#save-config")
    page.wait_for_selector("tr[data-name='dash-hello'] td:text-is('0 4 * * *')")
    names = tab_order(page, 14)
    expect_in_order(names, ["Job configs", "Jobs", "Job history", "Certificate stores",
                            "Cloud keys", "Plugins", "Sign out", "New job config", "Run now"],
                    "configs page")

    page.click("tr[data-name='dash-hello'] button.run-now")
    link = page.wait_for_selector("#notice a")
    job_id = link.inner_text()
    click_to(page, "#notice a", "job")
    # While it runs the page says so, then progress reaches 10 of 10.
    page.wait_for_selector("#job-progress[data-done='10'][data-total='10']", timeout=30000)
    page.wait_for_selector("main[data-status=completed]", timeout=30000)
    source = page.get_attribute("#job-progress", "data-source")
    assert source == "stream", f"progress came by {source}, not the event stream"
    partial = page.get_attribute("#job-progress", "data-partial-source")
    assert partial == "stream", f"no progress short of 10/10 came by the stream ({partial})"
    assert page.inner_text("#job-progress .progress-text") == "10 / 10"
    page.wait_for_selector("#job-logs >> text=saying hello")
    details = page.inner_text("#job-details")
    assert "Hello, Ada!" in details, details
    check_layout(page, "job")
    print(f"job {job_id} followed by {source}", file=sys.stderr)
    return job_id


def jobs_page(page, finished_job):
    goto(page, "#/jobs", "jobs")
    page.wait_for_selector(f"tr[data-job='{finished_job}']")
    # A job started elsewhere (here: through the API) shows up and finishes on the open
    # list: by the account's event stream when the server has it, else by polling.
    token = ENV["KEYWARDEN_ADMIN_TOKEN"]
    auth = {"Authorization": f"Bearer {token}"}
    configs = page.request.get(f"{BASE}/api/v1/scheduler/job-configs?name=dash-hello", headers=auth).json()
    config = configs["resources"][0]["id"]
    run = page.request.post(f"{BASE}/api/v1/scheduler/job-configs/{config}/run-now", headers=auth)
    assert run.status == 201, run.text()
    started = run.json()["job_id"]
    page.wait_for_selector(f"tr[data-job='{started}']", timeout=15000)
    done = f"tr[data-job='{started}'][data-status=completed][data-source=stream]"
    page.wait_for_selector(done, timeout=30000)
    page.select_option("#filter-status", "failed")
    click_to(page, "#apply-filters", "jobs")
    page.wait_for_selector(f"tr[data-job='{ENV['KEYWARDEN_FAILED_JOB']}']")
    assert page.query_selector(f"tr[data-job='{finished_job}']") is None, "the filter kept a completed job"
    rows = page.query_selector_all("tbody tr")
    assert all(r.get_attribute("data-status") == "failed" for r in rows)
    link = page.query_selector(f"tr[data-job='{ENV['KEYWARDEN_FAILED_JOB']}'] a")
    assert link.get_attribute("title") == ENV["KEYWARDEN_FAILED_JOB"], "long ids carry a title"
    check_layout(page, "jobs")


def retry_failed(page):
    failed = ENV["KEYWARDEN_FAILED_JOB"]
    click_to(page, f"tr[data-job='{failed}'] a", "job")
    page.wait_for_selector("main[data-status=failed]")
    assert page.query_selector("#job-facts .status-failure"), page.inner_text("#job-facts")
    check_layout(page, "failed-job")
    page.click("#retry")
    link = page.wait_for_selector("#retried-job")
    new_id = link.inner_text()
    assert new_id and new_id != failed
    click_to(page, "#retried-job", "job")
    assert new_id in page.inner_text("main h1")
    goto(page, "#/jobs", "jobs")
    page.wait_for_selector(f"tr[data-job='{new_id}']")


def read_only_refused(browser):
    context = browser.new_context(viewport=VIEWPORT)
    watch_requests(context)
    page = context.new_page()
    sign_in(page, BASE, ENV["KEYWARDEN_READ_ONLY_TOKEN"])
    page.click("tr[data-name='dash-hello'] button.run-now")
    page.wait_for_selector("#error:not([hidden])")
    text = page.inner_text("#error")
    assert "403" in text and ENV["KEYWARDEN_READ_ONLY_MESSAGE"] in text, text
    assert page.query_selector("#notice:not([hidden])") is None, "a job was queued"
    check_layout(page, "read-only-refused")
    context.close()


def history_fault(page):
    goto(page, "#/history", "history")
    page.wait_for_selector("#history-body table")
    check_layout(page, "history")
    page.fill("#history-query", ENV["KEYWARDEN_BAD_QUERY"])
    page.click("#run-query")
    page.wait_for_selector("#history-problem.problem")
    field = page.inner_text("#history-problem .problem-field")
    position = page.inner_text("#history-problem .problem-position")
    assert field == ENV["KEYWARDEN_BAD_QUERY_FIELD"], field
    assert position == ENV["KEYWARDEN_BAD_QUERY_POSITION"], position
    assert page.inner_text("#history-problem .problem-reason") not in ("", "—")
    marked = page.inner_text("#history-problem pre")
    assert marked.splitlines()[1].index("^") == int(position) - 1, marked
    check_layout(page, "history-fault")


def stores_highlight(page):
    goto(page, "#/stores", "stores")
    soon, later = ENV["KEYWARDEN_SOON_STORE"], ENV["KEYWARDEN_LATER_STORE"]
    page.wait_for_selector(f"tr[data-store='{soon}']")
    page.wait_for_selector(f"tr[data-store='{later}']")
    check_layout(page, "stores")
    click_to(page, f"tr[data-store='{soon}'] td:nth-child(2) a", "stores")
    row = page.query_selector("tbody tr")
    assert row.get_attribute("class") == "expiring", row.get_attribute("class")
    badge = row.query_selector(".badge").inner_text()
    assert re.fullmatch(r"expires in (9|10) days", badge), badge
    assert "soon.example.com" in row.inner_text()
    check_layout(page, "store-inventory")
    goto(page, f"#/stores/{later}", "stores")
    row = page.query_selector("tbody tr")
    assert not row.get_attribute("class"), "a certificate valid for 400 days is not highlighted"
    assert row.query_selector(".badge") is None


def keys_and_plugins(page):
    goto(page, "#/keys", "keys")
    page.wait_for_selector("main h1:text-is('Cloud keys')")
    check_layout(page, "keys")
    goto(page, "#/plugins", "plugins")
    card = page.wait_for_selector("[data-plugin=broken]")
    assert "not a WebAssembly file" in card.inner_text(), card.inner_text()
    assert "failed" in card.get_attribute("class")
    hello = page.wait_for_selector("[data-plugin=hello]")
    assert "hello" in hello.inner_text() and "ready" in hello.inner_text()
    check_layout(page, "plugins")
    names = tab_order(page, 12)
    expect_in_order(names, ["Job configs", "Plugins", "Sign out", "Manifest"], "plugins page")


def stream_client(browser, job_id):
    """The page's event-stream reader against the documented contract of
    GET /api/v1/scheduler/jobs/{id}/events, whatever this server has: the stream is
    played by the browser's request interception (a keep-alive comment, `job` with the
    stored log line, that line replayed as `log`, `progress`, a new `log`, `end` with
    every line), built from the real job. The page must say the figures came by stream
    and show each log line once."""
    context = browser.new_context(viewport=VIEWPORT)
    watch_requests(context)
    token = ENV["KEYWARDEN_ADMIN_TOKEN"]
    job = context.request.get(f"{BASE}/api/v1/scheduler/jobs/{job_id}",
                              headers={"Authorization": f"Bearer {token}"}).json()
    stored = {"level": "info", "message": "stored line", "fields": {"n": "1"}}
    fresh = {"level": "warn", "message": "streamed line", "fields": {}}
    running = dict(job, status="running", result=None, finished_at=None,
                   progress={"done": 3, "total": 10}, logs=[stored])
    final = dict(job, progress={"done": 10, "total": 10}, logs=[stored, fresh])
    events = [
        ": keep-alive\n\n",
        f"event: job\ndata: {json.dumps(running)}\n\n",
        f"event: log\ndata: {json.dumps(stored)}\n\n",
        "event: progress\r\ndata: {\"done\":7,\"total\":10}\r\n\r\n",
        f"event: log\ndata: {json.dumps(fresh)}\n\n",
        f"event: end\ndata: {json.dumps(final)}\n\n",
    ]
    seen = []

    def play(route):
        seen.append(route.request.headers.get("authorization"))
        route.fulfill(status=200, headers={"Content-Type": "text/event-stream"}, body="".join(events))

    context.route(f"**/api/v1/scheduler/jobs/{job_id}/events", play)
    page = context.new_page()
    sign_in(page, BASE, token)
    goto(page, f"#/jobs/{job_id}", "job")
    page.wait_for_selector("main[data-status=completed]")
    assert seen == [f"Bearer {token}"], f"the stream was asked for with {seen}"
    assert page.get_attribute("#job-progress", "data-source") == "stream"
    assert page.inner_text("#job-progress .progress-text") == "10 / 10"
    lines = [td.inner_text() for td in page.query_selector_all("#job-logs tbody td:nth-child(2)")]
    assert lines == ["stored line", "streamed line"], lines
    context.close()


requests = []


def watch_requests(context):
    context.on("request", lambda r: requests.append(r.url))


def main():
    os.makedirs(ARTIFACTS, exist_ok=True)
    problems = []
    with sync_playwright() as p:
        browser = launch(p)
        context = browser.new_context(viewport=VIEWPORT)
        watch_requests(context)
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("pageerror", lambda e: problems.append(str(e)))
        try:
            login_and_headers(page)
            finished = create_and_run(page)
            jobs_page(page, finished)
            retry_failed(page)
            history_fault(page)
            stores_highlight(page)
            keys_and_plugins(page)
            read_only_refused(browser)
            stream_client(browser, finished)
        except BaseException:
            # What the user saw when it went wrong.
            path = os.path.join(ARTIFACTS, "failure.png")
            page.screenshot(path=path, full_page=True)
            print(f"failed at {page.url}; screenshot: {path}", file=sys.stderr)
            print(f"banner: {page.inner_text('#error')!r}; console: {problems}", file=sys.stderr)
            raise
        # Signing out forgets the token.
        page.click("#logout")
        page.wait_for_selector("body[data-ready=login]")
        assert page.evaluate("sessionStorage.getItem('keywarden.token')") is None
        context.close()
        browser.close()
    # Nothing but the server: every request went to 127.0.0.1.
    outside = [u for u in requests if urlparse(u).hostname != "127.0.0.1" and not u.startswith("data:")]
    assert not outside, f"requests left 127.0.0.1: {outside}"
    # The CSP blocked nothing and no script failed. (Refusals the test provokes log as
    # failed resource loads; those are the only console errors allowed.)
    unexpected = [m for m in problems if "Failed to load resource" not in m]
    assert not unexpected, f"console errors: {unexpected}"
    for path in screenshots:
        print(f"screenshot: {path}")
    print(f"{len(requests)} requests, all to 127.0.0.1")


if __name__ == "__main__":
    main()
