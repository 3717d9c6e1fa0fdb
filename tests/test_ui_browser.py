"""The Prefect UI in a real browser: a film made against a real server shows its task runs and artifacts.

Headless Debian Chromium driven by Selenium through Debian's chromedriver (never Selenium Manager, which
would download a driver). Without /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium
chromium-driver) or the selenium package the test is skipped, unless FILM_REQUIRE_BROWSER=1 (as in CI),
which makes that a failure. Screenshots go to the test's tmp folder; set FILM_UI_SCREENSHOT to a path to
get a copy of the run page's Artifacts tab there too.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import write_project
from tests.prefect_server import flow_runs, make_film

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
                  "--no-first-run", "--disable-component-update", "--disable-sync", "--no-proxy-server",
                  "--window-size=1600,1000")
WAIT_S = 45.0
SHOTS = 4  # the short story's screenplay (tests/conftest.py)
NARRATION = "The rain had stopped by the time Mr. Hale reached the old mill on the hill."


@pytest.fixture(scope="module", autouse=True)
def _browser_installed() -> None:
    """Skip (or, with FILM_REQUIRE_BROWSER=1, fail) before any server starts when there is no browser to drive."""
    missing = [f"{path} (apt-get install {package})" for path, package in ((CHROMIUM, "chromium"),
                                                                          (CHROMEDRIVER, "chromium-driver"))
               if not path.is_file()]
    if importlib.util.find_spec("selenium") is None:
        missing.append("the selenium package (pip install -e '.[test]')")
    if not missing:
        return
    why = "browser test needs " + ", ".join(missing)
    if os.environ.get("FILM_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{why}; FILM_REQUIRE_BROWSER=1 makes that a failure", pytrace=False)
    pytest.skip(why)


@pytest.fixture
def driver(tmp_path: Path) -> Iterator:
    """A headless Chromium with a fresh profile, driven through the Debian chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    # An explicit driver path: Selenium Manager (which downloads drivers) is never run.
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log"))
    browser = webdriver.Chrome(service=service, options=options)
    browser.set_page_load_timeout(WAIT_S)
    try:
        yield browser
    finally:
        browser.quit()


def _wait_for_text(browser, element_id: str | None, texts: list[str], shot: Path) -> str:
    """Wait until the element (or the whole page) shows every one of ``texts``; its text. On a timeout, save a
    screenshot to ``shot`` and fail with what the page showed."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def shown(_) -> str | bool:
        found = browser.find_elements(By.ID, element_id) if element_id else browser.find_elements(By.TAG_NAME, "body")
        text = found[0].text if found else ""
        return text if all(want in text for want in texts) else False

    try:
        return WebDriverWait(browser, WAIT_S, poll_frequency=0.25).until(shown)
    except TimeoutException:
        browser.save_screenshot(str(shot))
        page = browser.find_element(By.TAG_NAME, "body").text
        missing = [want for want in texts if want not in page]
        pytest.fail(f"{browser.current_url} did not show {missing} within {WAIT_S:.0f} s (screenshot {shot}); "
                    f"it showed:\n{page[:4000]}")


def _open_tab(browser, tab: str, texts: list[str], shot: Path) -> str:
    from selenium.webdriver.common.by import By

    _wait_for_text(browser, None, [], shot)
    browser.find_element(By.ID, tab).click()
    return _wait_for_text(browser, f"{tab}-content", texts, shot)


def test_ui_shows_task_runs_and_artifacts(prefect_server, driver, tmp_path: Path) -> None:
    server = prefect_server
    project = write_project(tmp_path / "proj")
    make_film(server, project, tmp_path / "out")
    runs = flow_runs(server)
    assert len(runs) == 1, [run["name"] for run in runs]
    run = runs[0]
    assert run["state_type"] == "COMPLETED", run["state"]
    shots = tmp_path / "screenshots"
    shots.mkdir()

    driver.get(f"{server.url}/runs/flow-run/{run['id']}")
    _wait_for_text(driver, None, [run["name"], "Task Runs", "Artifacts"], shots / "run-failed.png")

    names = [f"{stage} · shot {n:02d}" for n in range(1, SHOTS + 1) for stage in ("images", "narration", "animation")]
    text = _open_tab(driver, "task-runs", [*names, "stitch · film"], shots / "task-runs-failed.png")
    driver.save_screenshot(str(shots / "task-runs.png"))
    assert f"{len(names) + 2} Task runs" in text  # the shots' tasks, the stitch and the script

    keys = [f"film-short-{what}" for what in ("screenplay", "contact-sheet", "ledger", "film", "summary")]
    _open_tab(driver, "artifacts", keys, shots / "artifacts-failed.png")
    driver.save_screenshot(str(shots / "artifacts.png"))
    if os.environ.get("FILM_UI_SCREENSHOT"):
        shutil.copyfile(shots / "artifacts.png", os.environ["FILM_UI_SCREENSHOT"])

    from selenium.webdriver.common.by import By

    cards = [card for card in driver.find_elements(By.CSS_SELECTOR, "#artifacts-content a[href*='/artifacts/artifact/']")
             if "film-short-screenplay" in card.text]
    assert len(cards) == 1, [card.text for card in driver.find_elements(By.CSS_SELECTOR, "#artifacts-content a")]
    cards[0].click()
    table = _wait_for_text(driver, None, ["film-short-screenplay", NARRATION, "image prompt", "computed"],
                           shots / "screenplay-failed.png")
    driver.save_screenshot(str(shots / "screenplay.png"))
    assert "Mr. Hale" in table and "Ann Hale" in table
