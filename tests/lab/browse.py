"""``python -m tests.lab.browse URL SCREENSHOT [SECONDS]``: open the station's web view
in headless Chromium (run inside a lab namespace), watch the boards table until a board
shows "rebooted", then the history until its timeline shows the reboot, save a
screenshot, and print what the tables showed (and the colours of their results), as JSON."""

from __future__ import annotations

import json
import sys
import tempfile
import time

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def browser(profile: str) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,800",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))


def rows(driver: webdriver.Chrome) -> list[dict[str, str]]:
    out = []
    for row in driver.find_elements(By.CSS_SELECTOR, "#boards tbody tr"):
        cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        out.append({"mac": cells[1], "phase": cells[4], "progress": cells[5],
                    "result": cells[8]})
    return out


def history_timeline(driver: webdriver.Chrome, deadline: float) -> str:
    """The timeline cell of the history's newest attempt, once it shows the reboot (the
    page reloads its history every 10 s)."""
    while time.monotonic() < deadline:
        try:
            cells = driver.find_elements(By.CSS_SELECTOR, "#history tbody tr td.timeline")
            if cells and "rebooted" in cells[0].text:
                return cells[0].text
        except StaleElementReferenceException:
            pass
        time.sleep(0.2)
    return ""


def main() -> int:
    url, screenshot = sys.argv[1], sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 60
    seen: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory() as profile:
        driver = browser(profile)
        try:
            driver.get(url)
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                try:
                    current = rows(driver)
                except (StaleElementReferenceException, IndexError):
                    continue  # the table was redrawn while read
                for row in current:
                    if not seen or seen[-1] != row:
                        seen.append(row)
                if any(row["result"] == "rebooted" for row in current):
                    break
                time.sleep(0.05)
            status = driver.find_element(By.ID, "status").text
            timeline = history_timeline(driver, deadline=time.monotonic() + 15)
            started = [row.find_elements(By.TAG_NAME, "td")[1].text for row in
                       driver.find_elements(By.CSS_SELECTOR, "#history tbody tr")]
            colours = {table: [cell.value_of_css_property("color") for cell in
                               driver.find_elements(By.CSS_SELECTOR,
                                                    f"#{table} tbody tr td.result")]
                       for table in ("boards", "history")}
            driver.save_screenshot(screenshot)
        except WebDriverException as exc:
            print(json.dumps({"error": str(exc).splitlines()[0], "seen": seen}))
            return 1
        finally:
            driver.quit()
    print(json.dumps({"seen": seen, "status": status, "history_timeline": timeline,
                      "result_colours": colours, "history_started": started}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
