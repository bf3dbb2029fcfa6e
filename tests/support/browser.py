"""The dashboard in a real browser: Debian's Chromium driven by playwright, signed in as a person.

With NOPIC_SCREENSHOTS=<dir>, each step a test names leaves a full-page screenshot there.
"""

from __future__ import annotations

import os

from playwright.async_api import Browser, Page, Playwright, expect

from tests.support.stack import ApiStack, Person

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


async def launch_chromium(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)


async def snap(page: Page, name: str) -> None:
    folder = os.environ.get("NOPIC_SCREENSHOTS")
    if folder:  # playwright creates the folder
        await page.screenshot(path=f"{folder}/{name}.png", full_page=True)


# What Chromium reports blocked by the pages' Content-Security-Policy: the dashboard needs no inline
# script or style, so nothing may be.
CSP_VIOLATIONS: list[str] = []


async def signed_in(browser: Browser, stack: ApiStack, username: str, password: str) -> Page:
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    page.on(
        "console",
        lambda message: (
            CSP_VIOLATIONS.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    await page.goto(f"{stack.url}/ui")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    return page


async def as_person(browser: Browser, stack: ApiStack, person: Person) -> Page:
    return await signed_in(browser, stack, person.username, person.password)
