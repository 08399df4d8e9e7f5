"""The demo RP (/demo-rp/) in Debian's Chromium against the live server and the demo
world: a QR login completed through the mock service, a same-device login through the
reference app and its callback, a notification login (and a refusal), and a PDF signed
by notification and by QR code + linked signature, checked with pyHanko and pdfsig.
Screenshots of every page (``<data dir>/screenshots/demo-rp-*.png``).
"""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import weasyprint
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from demo.autoresponder import DEMO_PIN1
from demo.rp import storage
from demo.world import identity_for_document
from tests.helpers.demo_world import RP_BY_HAND, DemoWorld
from tests.live import screenshot

pytestmark = pytest.mark.django_db(transaction=True)
OK_ACCOUNT = "PNOEE-40504040001-MOCK-Q"
TIMEOUT_MS = 30_000


def _mock_open(world: DemoWorld, document_number: str, link: str, flow: str = "QR") -> None:
    body = {"documentNumber": document_number, "deviceLink": link, "flowType": flow}
    answer = httpx.post(f"{world.url}/mock/device-link", json=body, timeout=30)
    assert answer.status_code == 200, answer.text


def _elapsed(link: str) -> int:
    return int(parse_qs(urlsplit(link).query)["elapsedSeconds"][0])


def _qr_link(page: Any) -> str:
    return str(page.locator("#eid-qr").get_attribute("data-link"))


def _logged_in_as(page: Any, code: str) -> None:
    page.wait_for_url(re.compile(r"/demo-rp/welcome$"), timeout=TIMEOUT_MS)
    identity = page.locator("#identity")
    text = identity.inner_text()
    assert "TESTNUMBER" in text and "OK" in text
    assert code in text and "EE" in text and "QUALIFIED" in text


def test_qr_login_refreshes_and_logs_in(page: Any, rp_world: DemoWorld) -> None:
    page.goto("/demo-rp/login")
    first = _qr_link(page)
    assert "deviceLinkType=QR" in first and "authCode=" in first
    assert page.locator("#web2app").get_attribute("href", timeout=1000)
    screenshot(page, "demo-rp-login")
    # A new QR code every second: a later elapsedSeconds, another authCode.
    deadline = time.monotonic() + 5
    while _qr_link(page) == first:
        assert time.monotonic() < deadline, "the QR code did not change"
        page.wait_for_timeout(100)
    second = _qr_link(page)
    assert _elapsed(second) > _elapsed(first)
    assert (
        page.locator("#eid-qr").get_attribute("src", timeout=1000).startswith("data:image/svg+xml")
    )
    _mock_open(rp_world, OK_ACCOUNT, _qr_link(page))
    _logged_in_as(page, "40504040001")
    assert "1905-04-04" in page.locator("#identity").inner_text()
    screenshot(page, "demo-rp-welcome")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r"/demo-rp/$"))


def test_same_device_login_through_the_callback(page: Any, rp_world: DemoWorld) -> None:
    page.goto("/demo-rp/login")
    link = str(page.locator("#web2app").get_attribute("href"))
    assert "deviceLinkType=Web2App" in link
    identity = identity_for_document(RP_BY_HAND)
    assert identity is not None
    app = rp_world.app(identity)
    opened = app.open_link(link)  # what the phone's app does with the link
    result = app.approve(opened.transaction, DEMO_PIN1)
    assert result.ok
    callback = opened.callback_url(result.user_challenge_verifier)
    assert callback is not None and callback.startswith("https://")
    # The RP API takes https:// callbacks only; the test server speaks plain HTTP, so the
    # browser follows it as a TLS proxy would pass it on.
    page.goto(callback.replace("https://", "http://", 1))
    _logged_in_as(page, "40404040009")
    # The same callback again (a replay) is refused.
    page.goto(callback.replace("https://", "http://", 1))
    assert page.locator(".message.error").is_visible()
    screenshot(page, "demo-rp-callback-refused")


def test_notification_login_shows_the_code(page: Any, rp_world: DemoWorld) -> None:
    page.goto("/demo-rp/login")
    page.get_by_role("textbox", name="Personal code").fill("40504040001")
    page.get_by_role("button", name="Send a notification").click()
    page.wait_for_url(re.compile(r"/demo-rp/login/wait$"))
    assert re.fullmatch(r"\d{4}", page.locator("#eid-vc").inner_text())
    screenshot(page, "demo-rp-login-code")
    _logged_in_as(page, "40504040001")


def test_refused_login_says_so_and_offers_a_retry(page: Any, rp_world: DemoWorld) -> None:
    page.goto("/demo-rp/login")
    page.get_by_role("textbox", name="Personal code").fill("30403039917")
    page.get_by_role("button", name="Send a notification").click()
    retry = page.locator("#eid-retry a")
    retry.wait_for(state="visible", timeout=TIMEOUT_MS)
    assert "cancelled" in page.locator("#eid-status").inner_text()
    screenshot(page, "demo-rp-login-refused")
    retry.click()
    page.wait_for_url(re.compile(r"/demo-rp/login$"))


def test_unknown_personal_code_is_a_form_error(page: Any, rp_world: DemoWorld) -> None:
    page.goto("/demo-rp/login")
    page.get_by_role("textbox", name="Personal code").fill("49999999990")
    page.get_by_role("button", name="Send a notification").click()
    assert "No usable Smart-ID account" in page.locator(".message.error").inner_text()


# --- signing ------------------------------------------------------------------------------


def _pdf(tmp_path: Path) -> Path:
    path = tmp_path / "contract.pdf"
    html = "<h1>Loan agreement</h1><p>The demo e-service lends 100 euros.</p>"
    path.write_bytes(weasyprint.HTML(string=html).write_pdf())
    return path


def _upload(page: Any, tmp_path: Path) -> None:
    page.goto("/demo-rp/sign")
    screenshot(page, "demo-rp-sign-upload")
    page.get_by_label("PDF document").set_input_files(str(_pdf(tmp_path)))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url(re.compile(r"/demo-rp/sign/signer$"))


def _download(page: Any, tmp_path: Path) -> Path:
    page.wait_for_url(re.compile(r"/demo-rp/sign/done$"), timeout=TIMEOUT_MS)
    assert "TESTNUMBER" in page.locator("#signer").inner_text()
    screenshot(page, "demo-rp-sign-done")
    with page.expect_download() as info:
        page.locator("#download").click()
    target = tmp_path / "signed.pdf"
    info.value.save_as(str(target))
    assert info.value.suggested_filename == "contract-signed.pdf"
    return target


def _check_signed(world: DemoWorld, path: Path) -> None:
    """pyHanko: intact, valid, trusted against the platform's TEST root, the signer's
    name, a trusted time-stamp; the DSS has our OCSP response. pdfsig: valid."""

    def der(url: str) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(httpx.get(f"{world.url}{url}", timeout=10).content)

    root, tsa_ca = der("/ca/root.crt"), der("/demo-rp/tsa-ca.crt")
    issuing = [der("/ca/eid-q.crt")]
    data = path.read_bytes()
    reader = PdfFileReader(io.BytesIO(data))
    (embedded,) = reader.embedded_signatures

    async def validate() -> Any:
        context = ValidationContext(
            trust_roots=[root, tsa_ca], other_certs=issuing, allow_fetching=False
        )
        return await async_validate_pdf_signature(embedded, context)

    # Playwright's sync API runs an event loop in this thread: validate in another one.
    with ThreadPoolExecutor(1) as pool:
        status = pool.submit(asyncio.run, validate()).result()
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.signing_cert.subject.native["common_name"] == "TESTNUMBER,OK"
    assert status.signing_cert.subject.native["serial_number"] == "PNOEE-40504040001"
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    assert status.md_algorithm == "sha256"
    dss = reader.root["/DSS"]
    assert len(dss["/OCSPs"]) >= 1  # B-LT: our OCSP response for the signer
    assert len(dss["/Certs"]) >= 2

    pdfsig = subprocess.run(
        ["pdfsig", str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert "Signature Validation: Signature is Valid." in pdfsig.stdout, pdfsig.stdout
    assert "Signer Certificate Common Name: TESTNUMBER,OK" in pdfsig.stdout
    assert "ETSI.CAdES.detached" in pdfsig.stdout
    # Without an NSS database (no certutil here) poppler does not know our TEST root.
    assert "Certificate Validation:" in pdfsig.stdout


def test_sign_a_pdf_by_personal_code(page: Any, rp_world: DemoWorld, tmp_path: Path) -> None:
    before = set(storage.names())
    _upload(page, tmp_path)
    screenshot(page, "demo-rp-sign-signer")
    page.get_by_role("textbox", name="Personal code").fill("40504040001")
    page.get_by_role("button", name="Send a notification").click()
    page.wait_for_url(re.compile(r"/demo-rp/sign/wait$"))
    page.locator("#eid-vc-box").wait_for(state="visible", timeout=TIMEOUT_MS)
    assert re.fullmatch(r"\d{4}", page.locator("#eid-vc").inner_text())
    screenshot(page, "demo-rp-sign-wait")
    signed = _download(page, tmp_path)
    _check_signed(rp_world, signed)
    # The upload, the prepared and the signed file are gone after the download.
    assert set(storage.names()) <= before


def test_sign_a_pdf_by_qr_code_and_linked_signature(
    page: Any, rp_world: DemoWorld, tmp_path: Path
) -> None:
    _upload(page, tmp_path)
    page.get_by_role("button", name="Show a QR code").click()
    page.wait_for_url(re.compile(r"/demo-rp/sign/wait$"))
    link = _qr_link(page)
    assert "sessionType=cert" in link
    screenshot(page, "demo-rp-sign-qr")
    _mock_open(rp_world, OK_ACCOUNT, _qr_link(page))
    signed = _download(page, tmp_path)
    _check_signed(rp_world, signed)


def test_the_login_page_in_estonian_and_by_keyboard(page: Any, rp_world: DemoWorld) -> None:
    page.goto("/demo-rp/login")
    page.keyboard.press("Tab")  # the skip link comes first and takes the focus
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.get_by_label("Language").select_option("et")
    page.get_by_role("button", name="Change").click()
    page.get_by_role("heading", name="Logi sisse Smart-ID-ga").wait_for()
    assert page.locator("html").get_attribute("lang") == "et"
    assert "lang=est" in _qr_link(page)  # the app's language follows the page's
    screenshot(page, "demo-rp-login-et")
