"""The review page in headless Chromium (Debian's chromium and chromium-driver, `make browser`)."""

import sys
import time
from pathlib import Path

import pytest
from review_fixtures import HOSTILE_ANSWER, HOSTILE_QUESTION, render_review_page, write_gen_out, write_taxonomy

from support.browser import NEEDS_CHROMIUM, console_problems, sample_card, start_chromium

pytestmark = NEEDS_CHROMIUM

# 2 leaves: (1 seed row + 4 generated) kept and 2 dropped each, plus 1 hostile kept and 1 dropped in birds.
TOTAL_ROWS = 2 * (5 + 2) + 2


@pytest.fixture
def driver(tmp_path):
    browser = start_chromium(tmp_path / "chromium-profile")
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

    assert console_problems(driver) == []


def _select(driver, element_id: str, value: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By.ID, element_id)).select_by_value(value)


def _downloaded(folder: Path, name: str, timeout: float = 10.0) -> str:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        path = folder / name
        if path.is_file() and not list(folder.glob("*.crdownload")):
            return path.read_text(encoding="utf-8")
        time.sleep(0.1)
    raise AssertionError(f"{name} was not downloaded to {folder}: {sorted(p.name for p in folder.iterdir())}")


def test_decisions_made_by_clicking_export_a_patch_git_applies(tmp_path, driver):
    """Keep, drop and fix by clicking; the filters for undecided, teacher-written and low-score
    samples; the export is a patch that `git apply` turns into the very files `taxon review
    decide` writes, and taxon validate accepts."""
    import subprocess

    from selenium.webdriver.common.by import By

    from taxon.qna.decisions import Decision, load_leaf_decisions, render_decision
    from taxon.review.data import load_review

    gen_out, taxonomy = write_gen_out(tmp_path / "gen"), write_taxonomy(tmp_path / "repo" / "taxonomy")
    page = render_review_page(gen_out, taxonomy, tmp_path / "review.html")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.get(page.as_uri())
    haiku = next(leaf for leaf in load_review(gen_out, taxonomy).leaves if leaf.leaf_id.endswith("haiku"))
    generated = [sample for sample in haiku.samples if sample.made_by == "teacher"]
    keep, drop, fix, low = generated[0], generated[1], generated[2], generated[-1]
    assert low.reason == "judge_low"
    leaf = haiku.leaf_id

    _select(driver, "made-by-filter", "teacher")
    assert _visible_rows(driver) == TOTAL_ROWS - 2  # the two seed rows
    driver.find_element(By.ID, "max-score").send_keys("1")
    assert _visible_rows(driver) == 3  # the low judge scores: 1.0 twice and 0.5
    driver.find_element(By.ID, "reset").click()
    _select(driver, "decision-filter", "undecided")
    undecided = _visible_rows(driver)
    assert undecided == TOTAL_ROWS - 2

    sample_card(driver, keep.id).find_element(By.CSS_SELECTOR, "button.keep").click()
    card = sample_card(driver, drop.id)
    card.find_element(By.CSS_SELECTOR, ".reason-input").send_keys("off the subject")
    card.find_element(By.CSS_SELECTOR, "button.drop").click()
    card = sample_card(driver, fix.id)
    card.find_element(By.CSS_SELECTOR, "button.fix").click()
    editor = card.find_element(By.CSS_SELECTOR, "textarea.fix-text")
    assert editor.get_attribute("value") == fix.answer
    editor.clear()
    editor.send_keys('Wet leaves fall down\nthe "gutter" sings $(low) `songs`\npuddles hold the sky')
    card.find_element(By.CSS_SELECTOR, "button.fix-save").click()
    sample_card(driver, low.id).find_element(By.CSS_SELECTOR, "button.keep").click()
    assert _visible_rows(driver) == undecided - 4  # decided samples leave the undecided filter
    _select(driver, "decision-filter", "fix")
    assert _visible_rows(driver) == 1
    assert driver.find_element(By.ID, "export").text == "Export decisions (4)"

    driver.find_element(By.ID, "export").click()  # no login yet: refused, nothing exported
    assert "GitHub login" in driver.find_element(By.ID, "export-status").text
    assert not list(downloads.iterdir())
    driver.find_element(By.ID, "reviewer").send_keys("alice")
    driver.find_element(By.ID, "export").click()
    patch = _downloaded(downloads, "taxon-decisions.patch")
    assert patch == driver.find_element(By.ID, "export-text").get_attribute("value")
    assert "git apply taxon-decisions.patch" in driver.find_element(By.ID, "export-commands").text

    # the decisions are kept by the browser: a reload shows them (Chromium stores them a moment
    # after the page writes them, so a loaded machine may need a second reload)
    for _ in range(10):
        driver.refresh()
        if driver.find_element(By.ID, "export").text == "Export decisions (4)":
            break
        time.sleep(0.5)
    assert driver.find_element(By.ID, "export").text == "Export decisions (4)"
    assert console_problems(driver) == []

    repo = tmp_path / "repo"
    (repo / "taxon-decisions.patch").write_text(patch, encoding="utf-8")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "apply", "taxon-decisions.patch"], cwd=repo, check=True)
    decisions = load_leaf_decisions(repo / "decisions", leaf)
    assert {sample: d.action for sample, d in decisions.items()} == {
        keep.id: "keep",
        drop.id: "drop",
        fix.id: "fix",
        low.id: "keep",
    }
    assert decisions[drop.id].reason == "off the subject" and decisions[keep.id].by == "alice"
    assert (
        decisions[fix.id].fixed_answer
        == 'Wet leaves fall down\nthe "gutter" sings $(low) `songs`\npuddles hold the sky'
    )
    for sample in (keep, drop, fix, low):
        written = (repo / "decisions" / leaf / f"{sample.id}.yaml").read_text(encoding="utf-8")
        d = decisions[sample.id]
        same = Decision(
            sample.id, leaf, d.action, "alice", d.at, sample.question, sample.answer, d.fixed_answer, d.reason
        )
        assert written == render_decision(same)  # byte for byte what the command line writes
    result = subprocess.run(
        [sys.executable, "-m", "taxon", "validate", "decisions"], cwd=repo, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout
    assert "4 decision files, 0 errors" in result.stdout


def test_a_sample_decided_before_is_decided_again_by_a_patch_that_replaces_its_file(tmp_path, driver):
    import json
    import subprocess

    from selenium.webdriver.common.by import By

    from taxon.qna.decisions import decision_for, load_leaf_decisions, write_decision
    from taxon.review.data import load_review

    repo = tmp_path / "repo"
    gen_out, taxonomy = write_gen_out(tmp_path / "gen"), write_taxonomy(repo / "taxonomy")
    leaf = "compositional_skills/writing/haiku"
    samples = gen_out / leaf / "samples.jsonl"
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    old = decision_for(rows[1], "keep", "bob", reason="fine")
    write_decision(repo / "decisions", old)
    rows[1]["metadata"].update(decision="keep", decided_by="bob", decided_at=old.at)  # as generation applied it
    samples.write_text("".join(json.dumps(row) + "\n" for row in rows))
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)

    page = render_review_page(gen_out, taxonomy, tmp_path / "review.html")
    sample = next(
        s for leaf_data in load_review(gen_out, taxonomy).leaves for s in leaf_data.samples if s.id == old.sample
    )
    assert sample.decision_file and sample.decision["by"] == "bob"
    driver.get(page.as_uri())
    assert "decided: keep by bob" in sample_card(driver, old.sample).text
    sample_card(driver, old.sample).find_element(By.CSS_SELECTOR, "button.drop").click()
    driver.find_element(By.ID, "reviewer").send_keys("alice")
    driver.find_element(By.ID, "export").click()
    patch = driver.find_element(By.ID, "export-text").get_attribute("value")
    assert "new file mode" not in patch and f"--- a/decisions/{leaf}/{old.sample}.yaml" in patch
    (repo / "p.patch").write_text(patch)
    subprocess.run(["git", "apply", "p.patch"], cwd=repo, check=True)
    redecided = load_leaf_decisions(repo / "decisions", leaf)[old.sample]
    assert (redecided.action, redecided.by, redecided.reason) == ("drop", "alice", None)
