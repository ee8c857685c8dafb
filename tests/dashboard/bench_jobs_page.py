"""Loads the dashboard's jobs page KEYWARDEN_LOADS times (after one warm-up) and prints
`load_ms N` per load: milliseconds from navigation start to the rows being rendered, as
the page itself records them (body[data-ready-at], performance.now())."""

import os

from common import VIEWPORT, launch, sign_in, sync_playwright

BASE = os.environ["KEYWARDEN_BASE"]
LOADS = int(os.environ["KEYWARDEN_LOADS"])


def main():
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_context(viewport=VIEWPORT).new_page()
        sign_in(page, BASE, os.environ["KEYWARDEN_ADMIN_TOKEN"])
        for i in range(LOADS + 1):
            page.goto("about:blank")
            page.goto(f"{BASE}/ui/#/jobs")
            page.wait_for_selector("body[data-ready=jobs] tbody tr[data-job]")
            ms = float(page.get_attribute("body", "data-ready-at"))
            rows = len(page.query_selector_all("tbody tr[data-job]"))
            assert rows == 50, rows
            if i > 0:
                print(f"load_ms {ms:.1f}", flush=True)
        browser.close()


if __name__ == "__main__":
    main()
