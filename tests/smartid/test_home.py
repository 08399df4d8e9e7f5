"""``/``: the landing page that links the service's faces (and the demo's, outside live)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_landing_page_links_every_face() -> None:
    response = Client().get("/")
    assert response.status_code == 200
    page = response.content.decode()
    for href in ("/portal/", "/ra/", "/admin/", "/v2/openapi.json", "/v1/openapi.json"):
        assert f'href="{href}"' in page
    assert 'href="/ca/root.crt"' in page and 'href="/health"' in page
    # Outside live the demo app is installed: its bits are listed too.
    assert "/mid-api/" in page and 'href="/portal/virtual-card/ca.crt"' in page
    assert "<script" not in page  # nothing inline for the CSP to refuse (and none needed)
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_the_landing_page_speaks_estonian() -> None:
    page = Client(headers={"accept-language": "et"}).get("/").content.decode()
    assert 'lang="et"' in page and "Iseteeninduse portaal" in page


def test_the_admins_view_site_link_is_the_landing_page() -> None:
    assert admin.site.site_url == "/"


def test_the_favicon_is_served() -> None:
    response = Client().get("/favicon.ico")
    assert response.status_code == 301
    assert response.headers["Location"].endswith("/static/favicon.ico")


def test_the_default_device_link_base_is_a_page_for_people_without_the_app(
    settings: Any,
) -> None:
    assert settings.RP_V3_DEVICE_LINK_BASE == settings.SITE_URL + "/device-link"
    link = "/device-link?deviceLinkType=QR&elapsedSeconds=1&sessionToken=<b>x</b>&authCode=y"
    response = Client().get(link)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Open in the app" in page and "<b>" not in page
    estonian = Client(headers={"accept-language": "et"}).get(link).content.decode()
    assert "Ava rakenduses" in estonian
    assert Client().post("/device-link").status_code == 405
