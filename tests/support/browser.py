"""The review page in a real browser: Debian's headless Chromium driven through Selenium
(`make browser` installs chromium and chromium-driver), and what the tests read off the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

# The marks of a module whose tests open the browser: skipped, saying why, where it is missing.
NEEDS_CHROMIUM = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="Debian chromium and chromium-driver are not installed (run `make browser`)",
    ),
]


def start_chromium(profile: Path) -> Any:
    """A headless Chromium with its own profile folder, quiet offline, keeping the page's
    console log; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


def console_problems(driver: Any) -> list[dict]:
    """The page's console errors and warnings so far."""
    return [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]


def sample_card(driver: Any, sample_id: str) -> Any:
    """The review page's card of one sample."""
    from selenium.webdriver.common.by import By

    return next(
        card
        for card in driver.find_elements(By.CSS_SELECTOR, ".sample")
        if sample_id in card.find_element(By.CSS_SELECTOR, ".sample-meta").text
    )
