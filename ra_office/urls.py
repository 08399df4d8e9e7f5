from __future__ import annotations

from django.urls import URLPattern, URLResolver

app_name = "ra_office"
urlpatterns: list[URLPattern | URLResolver] = []
