"""The local Slack page in real headless Chromium (Debian's chromium and chromium-driver).

Each test starts `voicebot local` as `make run` does (the real app behind signed requests, the
fake Web API, the embedded sandbox) and clicks through the page as a newcomer would. The same
run saves the screenshots the README shows (docs/images/).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.deps import Tuning
from bot.local.page import LocalSlack
from bot.local.serverthread import ServerThread, free_port
from bot.settings import Settings

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
IMAGES = Path(__file__).resolve().parents[3] / "docs" / "images"
HOW = (
    "browser tests need Chromium: apt-get install chromium chromium-driver (CI=true fails instead)"
)

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - selenium is in the dev extras
    webdriver = None  # type: ignore[assignment]

HAVE_BROWSER = (
    webdriver is not None and os.path.exists(CHROMIUM) and shutil.which(CHROMEDRIVER) is not None
)
if not HAVE_BROWSER:
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI=true and no browser: {HOW}")
    pytest.skip(HOW, allow_module_level=True)


def start_chromium(profile: str) -> WebDriver:
    """Debian's Chromium, headless, on a fresh profile, with nothing that reaches the network."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,900",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    # Screenshots of one size, whatever the headless window makes of --window-size.
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1400, "height": 800, "deviceScaleFactor": 1, "mobile": False},
    )
    return driver


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    profile = tempfile.mkdtemp(prefix="voicebot-chromium-")
    driver = start_chromium(profile)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Page:
    """The page as a person uses it: type, click, fill a form, read what shows."""

    def __init__(self, driver: WebDriver, local: LocalSlack, url: str) -> None:
        self.d = driver
        self.local = local
        self.url = url

    def open(self) -> Page:
        self.d.get(self.url)
        self.d.execute_script("localStorage.clear()")
        self.d.get(self.url)
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#nav .nav-item"))
        return self

    def wait(self, until: Any, timeout: float = 30) -> Any:
        # The page redraws as the bot posts: an element found a moment ago may be gone.
        return WebDriverWait(
            self.d, timeout, poll_frequency=0.1, ignored_exceptions=[StaleElementReferenceException]
        ).until(until)

    def go(self, label: str) -> None:
        self.press(f"//nav//a[contains(., '{label}')]")

    def type(self, text: str) -> None:
        box = self.d.find_element(By.ID, "text")
        box.send_keys(text)
        box.send_keys(Keys.ENTER)

    def messages(self) -> str:
        return self.d.find_element(By.ID, "messages").text

    def sees(self, text: str, timeout: float = 30) -> None:
        self.wait(lambda d: text in d.find_element(By.ID, "messages").text, timeout)

    def click(self, label: str, *, within: str = "messages") -> None:
        """The last button with this label (the newest message's)."""

        self.press(f"//*[@id='{within}']//button[normalize-space()='{label}']")

    def press(self, xpath: str) -> None:
        """Click the last element matching `xpath`, again if a redraw replaced it meanwhile."""

        def press(d: WebDriver) -> bool:
            found = d.find_elements(By.XPATH, xpath)
            if found:
                found[-1].click()
            return bool(found)

        self.wait(press)

    def modal(self, title: str) -> WebElement:
        return self.wait(
            lambda d: next(
                (
                    m
                    for m in d.find_elements(By.CSS_SELECTOR, ".modal")
                    if title in m.find_element(By.TAG_NAME, "h2").text
                ),
                False,
            )
        )

    def field(self, modal: WebElement, block: str, tag: str = "input") -> WebElement:
        return modal.find_element(By.CSS_SELECTOR, f"[data-block='{block}'] {tag}")

    def submit(self, modal: WebElement) -> None:
        modal.find_element(By.CSS_SELECTOR, "[data-submit]").click()
        self.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, ".modal"))

    def shot(self, name: str) -> None:
        IMAGES.mkdir(parents=True, exist_ok=True)
        self.d.save_screenshot(str(IMAGES / name))


def start_local() -> tuple[LocalSlack, ServerThread]:
    """`voicebot local` with quick sandbox calls, broadcasts paced to 2 numbers a minute."""
    port = free_port()
    settings = Settings(
        _env_file=None,
        obd_calling_hours="",
        obd_calls_per_minute=2,
        scheduler_enabled=False,
    )
    local = LocalSlack(
        settings, port, tuning=Tuning(poll_seconds=0.2, auto_track=True, freeze_heap=False)
    )
    assert local.deps.sandbox is not None
    local.deps.sandbox.state.step_seconds = 0.3
    return local, ServerThread(local.asgi, port).start()


@pytest.fixture
def page(browser: WebDriver) -> Iterator[Page]:
    local, server = start_local()
    try:
        yield Page(browser, local, server.url + "/").open()
    finally:
        server.stop()


def registered(page: Page) -> None:
    """The admin maps their own number (an admin's mapping needs no verification call)."""
    page.type("/c2c register @asha 9876543210")
    page.sees("+91 98765 43210")


def test_dial_from_the_composer_and_watch_the_card_complete(page: Page) -> None:
    registered(page)
    page.type("/c2c 9123456789")
    page.sees("your phone +91 98765 43210 rings first")
    page.go("voicebot · Messages")  # the card lives in the DM
    page.sees("Call completed")
    text = page.messages()
    assert "+91 91234 56789" in text and "answered" in text
    page.shot("call-card.png")


def test_the_c2c_form(page: Page) -> None:
    registered(page)
    page.type("/c2c")
    form = page.modal("Click-to-call")
    assert page.field(form, "c2c_agent").get_attribute("value") == "+919876543210"
    page.field(form, "c2c_customer").send_keys("9123456788")
    page.shot("c2c-form.png")
    page.submit(form)
    page.go("voicebot · Messages")
    page.sees("91234 56788")


def test_log_outcome_through_its_modal(page: Page) -> None:
    registered(page)
    page.type("/c2c 9123456789")
    page.sees("your phone +91 98765 43210 rings first")
    page.go("voicebot · Messages")  # the card lives in the DM
    page.sees("Call completed")
    page.click("Log outcome")
    form = page.modal("Log outcome")
    select = page.field(form, "outcome_kind", "select")
    select.find_elements(By.TAG_NAME, "option")[1].click()
    page.field(form, "outcome_note", "textarea").send_keys("Wants the annual plan")
    page.shot("log-outcome.png")
    page.submit(form)
    page.go("voicebot · Home")
    page.wait(lambda d: "Wants the annual plan" in d.find_element(By.CSS_SELECTOR, ".home").text)


def test_obd_form_with_a_csv_then_start_pause_resume(page: Page, tmp_path: Path) -> None:
    csv = tmp_path / "numbers.csv"
    csv.write_text("number\n" + "\n".join(f"98765000{n:02d}" for n in range(21, 27)) + "\n")
    page.type("/obd")
    form = page.modal("Voice broadcast")
    page.field(form, "obd_file").send_keys(str(csv))
    page.field(form, "obd_play").send_keys("123.sound")
    page.field(form, "obd_campaign").send_keys("renewals")
    page.submit(form)
    page.go("voicebot · Messages")
    page.sees("Confirm broadcast")
    assert "6 numbers" in page.messages()
    page.click("Start")
    page.click("Pause")
    page.sees("Paused")
    page.click("Resume")
    page.wait(
        lambda d: "Pause" in [b.text for b in d.find_elements(By.CSS_SELECTOR, "#messages button")]
    )
    page.shot("broadcast.png")


def test_call_back_a_missed_call(page: Page) -> None:
    registered(page)
    panel = page.d.find_element(By.ID, "incoming")
    caller = panel.find_element(By.NAME, "caller")
    caller.clear()
    caller.send_keys("9812345678")
    panel.find_element(By.CSS_SELECTOR, "button").click()
    page.go("# calls")
    page.sees("Missed call")
    page.click("Call back")
    page.sees("@asha is calling back")
    page.shot("calls-channel.png")
    page.go("voicebot · Messages")
    page.sees("Customer +91 98123 45678: answered")


def test_app_home(page: Page) -> None:
    registered(page)
    page.type("/c2c 9123456789")
    page.go("voicebot · Messages")
    page.sees("Call completed")
    page.go("voicebot · Home")
    home = page.wait(lambda d: d.find_element(By.CSS_SELECTOR, ".home[data-view^='V']"))
    assert "Your agent number is +91 98765 43210" in home.text
    page.wait(lambda d: "+91 91234 56789" in d.find_element(By.CSS_SELECTOR, ".home").text)
    assert "asha (admin)" in page.d.find_element(By.ID, "me").text
    page.shot("app-home.png")


def test_the_call_this_number_shortcut_and_acting_as_an_agent(page: Page) -> None:
    registered(page)
    page.type("Please ring Ravi on 9123456789 before noon")
    page.sees("Please ring Ravi")
    message = page.wait(
        lambda d: [
            m
            for m in d.find_elements(By.CSS_SELECTOR, "article.message")
            if "Please ring Ravi" in m.text
        ][-1]
    )
    ActionChains(page.d).move_to_element(message).perform()
    message.find_element(By.CSS_SELECTOR, "button.more").click()
    message.find_element(By.CSS_SELECTOR, "[data-shortcut='call_this_number']").click()
    page.sees("+91 91234 56789")
    page.d.find_element(By.CSS_SELECTOR, "#me option[value='U0RAVI']").click()
    page.type("/obd 9876543210 play 123.sound")
    page.sees("Only admins")
