"""``python -m tests.lab.browse_act URL SECONDS``: open the station's web view (URL with
?token=) in headless Chromium, click Approve on the held board, wait for it to be waiting
after its install, click Reboot, wait for rebooted; print what the page showed (phases,
the buttons each phase offered, the answer line) as JSON."""

from __future__ import annotations

import json
import sys
import tempfile
import time

from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By

from tests.lab.browse import browser


def board_row(driver) -> dict | None:
    for row in driver.find_elements(By.CSS_SELECTOR, "#boards tbody tr"):
        cells = row.find_elements(By.TAG_NAME, "td")
        buttons = [b.get_attribute("data-action") for b in
                   cells[9].find_elements(By.TAG_NAME, "button")]
        return {"mac": cells[1].text, "phase": cells[4].text, "buttons": buttons,
                "phase_colour": cells[4].value_of_css_property("color")}
    return None


def wait_for(driver, phase: str, deadline: float, seen: list) -> dict:
    while time.monotonic() < deadline:
        try:
            row = board_row(driver)
        except (StaleElementReferenceException, IndexError):
            continue
        if row is not None and (not seen or seen[-1] != row):
            seen.append(row)
        if row is not None and row["phase"] == phase:
            return row
        time.sleep(0.05)
    raise TimeoutError(f"no board {phase}: {seen[-3:]}")


def click(driver, action: str) -> str:
    driver.execute_script("document.getElementById('action-answer').textContent = ''")
    driver.find_element(By.CSS_SELECTOR, f"#boards tbody tr button[data-action={action}]"
                        ).click()
    deadline = time.monotonic() + 10
    answer = driver.find_element(By.ID, "action-answer")
    while time.monotonic() < deadline and not answer.text:
        time.sleep(0.05)
    return answer.text


def main() -> int:
    url, seconds = sys.argv[1], float(sys.argv[2])
    seen: list[dict] = []
    report: dict = {"seen": seen}
    with tempfile.TemporaryDirectory() as profile:
        driver = browser(profile)
        try:
            driver.get(url)
            deadline = time.monotonic() + seconds
            report["held"] = wait_for(driver, "held", deadline, seen)
            report["approve_answer"] = click(driver, "approve")
            report["waiting"] = wait_for(driver, "waiting", deadline, seen)
            report["reboot_answer"] = click(driver, "reboot")
            report["rebooted"] = wait_for(driver, "rebooted", deadline, seen)
        except (WebDriverException, TimeoutError) as exc:
            report["error"] = str(exc).splitlines()[0]
        finally:
            driver.quit()
    print(json.dumps(report))
    return 0 if "error" not in report else 1


if __name__ == "__main__":
    sys.exit(main())
