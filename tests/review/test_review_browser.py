"""The review page in headless Chromium (Debian's chromium and chromium-driver, `make browser`)."""

from pathlib import Path

import pytest
from review_fixtures import HOSTILE_ANSWER, HOSTILE_QUESTION, render_review_page, write_gen_out, write_taxonomy

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="Debian chromium and chromium-driver are not installed (run `make browser`)",
    ),
]

# 2 leaves: (1 seed row + 4 generated) kept and 2 dropped each, plus 1 hostile kept and 1 dropped in birds.
TOTAL_ROWS = 2 * (5 + 2) + 2


@pytest.fixture
def driver(tmp_path):
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
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield browser
    browser.quit()


def _visible_rows(driver) -> int:
    return driver.execute_script(
        "return [...document.querySelectorAll('.sample')].filter(e => e.offsetParent !== null).length"
    )


def test_page_renders_filters_work_and_logs_no_errors(tmp_path, driver):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    page = render_review_page(
        write_gen_out(tmp_path / "gen"), write_taxonomy(tmp_path / "taxonomy"), tmp_path / "review.html"
    )
    driver.get(page.as_uri())

    assert len(driver.find_elements(By.CSS_SELECTOR, "section.leaf")) == 2
    assert _visible_rows(driver) == TOTAL_ROWS
    assert driver.find_element(By.ID, "shown-count").text == f"{TOTAL_ROWS} of {TOTAL_ROWS} samples shown"
    assert "The European robin sings at night" in driver.find_elements(By.CSS_SELECTOR, ".seeds")[1].text

    # Hostile content shows as text and never ran.
    assert driver.execute_script("return document.querySelectorAll('img, b, script:not([id]):not([src])').length") == 1
    page_text = driver.find_element(By.TAG_NAME, "body").text
    assert "<script>alert(1)</script>" in page_text and "onerror=alert(2)" in page_text
    assert HOSTILE_QUESTION.split("?")[0] in page_text and HOSTILE_ANSWER.splitlines()[-1] in page_text

    driver.find_element(By.ID, "search").send_keys("weak question")
    assert _visible_rows(driver) == 2
    driver.find_element(By.ID, "search").clear()
    driver.execute_script("document.getElementById('search').dispatchEvent(new Event('input'))")
    assert _visible_rows(driver) == TOTAL_ROWS

    Select(driver.find_element(By.ID, "status-filter")).select_by_value("dropped")
    assert _visible_rows(driver) == 5
    Select(driver.find_element(By.ID, "reason-filter")).select_by_value("refusal")
    assert _visible_rows(driver) == 1
    assert len([s for s in driver.find_elements(By.CSS_SELECTOR, "section.leaf") if s.is_displayed()]) == 1

    driver.find_element(By.ID, "reset").click()
    Select(driver.find_element(By.ID, "leaf-filter")).select_by_value("compositional_skills/writing/haiku")
    assert _visible_rows(driver) == 7
    driver.find_element(By.ID, "min-score").send_keys("3.5")
    assert _visible_rows(driver) == 3  # generated 3.5, 3.75 and the duplicate at 4.0
    assert driver.find_element(By.ID, "shown-count").text == f"3 of {TOTAL_ROWS} samples shown"

    driver.find_element(By.ID, "reset").click()
    screenshot = tmp_path / "review.png"
    driver.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000

    errors = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert errors == []
