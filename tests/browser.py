"""Helpers for the browser tests: Debian's Chromium driven by Playwright against the live server.

The ``browser`` and ``page`` fixtures live in tests/conftest.py.
"""

import re

from playwright.sync_api import expect

from tests import factories

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def log_in(page, username):
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", factories.PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".user-name")).to_be_visible()


def log_out(page):
    page.click("text=Log out")
    expect(page).to_have_url(re.compile(r"/login/$"))
