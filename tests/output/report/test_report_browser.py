"""The report in a real browser: headless Chromium opens it from disk, no JavaScript error, no
network request, every plot drawn, the table sorts, and a full-page screenshot is saved to
reports/screenshots/ for a human to look at.

Skips (with the reason) when Chromium, chromedriver or selenium are missing; CI installs them
(.ci/run). Selenium Manager is never asked to download a driver: the Debian binaries are given
explicitly and SE_OFFLINE is set.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import EXAMPLES, ROOT

from stress.output.report.html import render_report

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SHOTS = ROOT / "reports" / "screenshots"
WIDTH = 1400

# Recorded before any page script runs, so errors thrown while the page loads are caught too.
ERROR_HOOK = """
window.__errors = [];
window.addEventListener('error', function (e) {
  var where = (e.filename || '') + ':' + (e.lineno || '');
  window.__errors.push(String(e.message || e.type) + ' @ ' + where);
}, true);
window.addEventListener('unhandledrejection', function (e) {
  window.__errors.push('unhandled rejection: ' + String(e.reason));
});
window.alert = function (m) { window.__errors.push('alert(' + m + ') was called'); };
"""


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install '.[test]')"
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.exists(binary) and os.access(binary, os.X_OK)):
            return f"{binary} not found (apt-get install chromium chromium-driver)"
    return None


pytestmark = [
    pytest.mark.slow,  # a browser per module and a page per example: out of the quick loop
    pytest.mark.skipif(_missing() is not None, reason=_missing() or ""),
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not fetch anything
    profile = tmp_path_factory.mktemp("chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},1000",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": ERROR_HOOK})
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _requests(driver) -> list[str]:
    """URLs the page asked for since the last call (from the DevTools performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def _wait_for_plots(driver, timeout: float = 30.0) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    while True:
        total, drawn = driver.execute_script(
            "var d = document.querySelectorAll('div.plot');"
            "var n = 0; d.forEach(function (x) { if (x.querySelector('svg.main-svg')) n++; });"
            "return [d.length, n];"
        )
        if drawn == total or time.monotonic() > deadline:
            return total, drawn
        time.sleep(0.2)


def open_report(driver, page: str, path: Path, shot_name: str) -> None:
    """Load `page` from disk, check it drew cleanly and offline, save a full-page screenshot."""
    path.write_text(page, encoding="utf-8")
    driver.set_window_size(WIDTH, 1000)
    _requests(driver)  # drop what earlier pages logged
    driver.get_log("browser")
    driver.get(path.as_uri())
    total, drawn = _wait_for_plots(driver)
    assert total > 0 and drawn == total, f"{drawn} of {total} plots drew"
    errors = driver.execute_script("return window.__errors")
    severe = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors and not severe, (errors, severe)
    fetched = [u for u in _requests(driver) if not u.startswith(("file:", "data:", "blob:"))]
    assert not fetched, f"the page made network requests: {fetched}"
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(WIDTH, min(height + 40, 16000))
    time.sleep(0.3)  # plotly's responsive relayout after the resize
    SHOTS.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(SHOTS / f"{shot_name}.png"))


@pytest.mark.parametrize("config", EXAMPLES, ids=lambda p: p.stem)
def test_example_report_draws_in_chromium(browser, config, tmp_path):
    from test_report import example_run

    open_report(browser, render_report(example_run(config)), tmp_path / "report.html", config.stem)
    # the verdict is on screen: the first thing under the header
    text = browser.find_element("css selector", "section.portfolio .verdict").text.lower()
    assert "recommended" in text and "is the difference real?" in text


def test_user_strings_stay_text_in_the_browser(browser, tmp_path):
    from test_report import NASTY_ID, NASTY_ID2, nasty_run

    open_report(browser, render_report(nasty_run()), tmp_path / "report.html", "escaping")
    assert browser.execute_script("return window.__pwned === undefined")
    cells = browser.find_elements("css selector", "table.positions th.pid")
    assert [c.text for c in cells] == [NASTY_ID, NASTY_ID2]
    ticks = browser.execute_script(
        "return Array.from(document.querySelectorAll('#p0-positions .xtick text'))"
        ".map(function (t) { return t.textContent; });"
    )
    assert ticks == [NASTY_ID, NASTY_ID2]  # plotly drew the characters, not markup


def test_many_portfolios_table_sorts_in_the_browser(browser, tmp_path):
    from test_report import LEVERAGES, sweep_run

    open_report(browser, render_report(sweep_run()), tmp_path / "report.html", "many-portfolios")
    column = browser.execute_script(
        "return Array.from(document.querySelectorAll('#overview-table th'))"
        ".findIndex(function (th) { return th.textContent === 'ES 99 % (USDT)'; });"
    )
    header = browser.find_elements("css selector", "#overview-table th")[column]
    read = (
        "return Array.from(document.querySelectorAll('#overview-table tbody tr'))"
        f".map(function (r) {{ return parseFloat(r.cells[{column}].textContent"
        ".replace(/,/g, '')); });"
    )
    header.click()
    first = browser.execute_script(read)
    assert first == sorted(first, reverse=True) and len(first) == 3 * len(LEVERAGES)
    header.click()
    assert browser.execute_script(read) == sorted(first)


def test_sweep_menu_switches_the_heat_maps_in_the_browser(browser, tmp_path):
    from test_report_sweep import SIDES, grid_config

    import stress

    page = render_report(stress.run(grid_config(), paths=300))
    open_report(browser, page, tmp_path / "report.html", "sweep-grid")
    shown = (
        "var gd = document.getElementById('sweep-p_liquidation');"
        "return [gd.data.filter(function (t) { return t.visible === true; })"
        ".map(function (t) { return t.hovertemplate; }),"
        " gd.layout.coloraxis.cmax];"
    )
    before, _ = browser.execute_script(shown)
    menu = browser.find_element("css selector", "#sweep-p_liquidation .updatemenu-header-group")
    menu.click()
    deadline = time.monotonic() + 5
    while True:  # the list fades in
        options = browser.find_elements(
            "css selector", "#sweep-p_liquidation .updatemenu-dropdown-button"
        )
        if (options and all(o.is_displayed() for o in options)) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    labels = [o.get_attribute("textContent") for o in options]
    assert labels == [f"side.btc-short {s}" for s in SIDES]
    current = next(s for s in SIDES if f"side.btc-short {s}" in before[0])
    other = next(o for o, s in zip(options, SIDES, strict=True) if s != current)
    other.click()
    time.sleep(0.3)
    after, cmax = browser.execute_script(shown)
    assert len(after) == len(before) == 3 and after != before
    assert all(f"side.btc-short {current}" not in t for t in after)
    assert cmax > 0
    assert not browser.execute_script("return window.__errors")
