"""What the dashboard's browser test and benchmark share: launching Debian's chromium
through Playwright (never a downloaded browser) at the 1280x800 viewport."""

import os

from playwright.sync_api import sync_playwright

VIEWPORT = {"width": 1280, "height": 800}


def launch(playwright):
    """Headless chromium from KEYWARDEN_CHROMIUM. --no-sandbox: CI runs as root, where
    chromium's own sandbox cannot start."""
    return playwright.chromium.launch(
        executable_path=os.environ["KEYWARDEN_CHROMIUM"],
        headless=True,
        args=["--no-sandbox", "--disable-dev-shm-usage"],
    )


def sign_in(page, base, token):
    """Opens /ui, pastes the token, waits for the job configs page."""
    page.goto(f"{base}/ui/")
    page.wait_for_selector("body[data-ready=login]")
    page.fill("#token", token)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("body[data-ready=configs]")


__all__ = ["sync_playwright", "launch", "sign_in", "VIEWPORT"]
