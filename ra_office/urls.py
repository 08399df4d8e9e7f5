from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from ra_office import views

app_name = "ra_office"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("login/totp/", views.login_totp, name="login_totp"),
    path("logout/", views.logout_view, name="logout"),
    path("approvals/", views.approvals, name="approvals"),
    path("applications/new/", views.application_new, name="application_new"),
    path("applications/<int:pk>/", views.application_detail, name="application_detail"),
    path(
        "applications/<int:pk>/registry-check/",
        views.application_registry_check,
        name="application_registry_check",
    ),
    path("applications/<int:pk>/approve/", views.application_approve, name="application_approve"),
    path("applications/<int:pk>/print/", views.application_print, name="application_print"),
    path(
        "applications/<int:pk>/application.pdf", views.application_pdf_view, name="application_pdf"
    ),
    path(
        "applications/<int:pk>/confirm-signature/",
        views.application_confirm_signature,
        name="application_confirm_signature",
    ),
    path("applications/<int:pk>/release/", views.application_release, name="application_release"),
    path("applications/<int:pk>/ticket/", views.application_ticket, name="application_ticket"),
    path("applications/<int:pk>/cancel/", views.application_cancel, name="application_cancel"),
    # Remote onboarding (issue 8): borderline automated checks wait for a supervisor.
    path("reviews/", views.reviews, name="reviews"),
    path("reviews/<uuid:pk>/", views.review_detail, name="review_detail"),
    path("reviews/<uuid:pk>/decide/", views.review_decide, name="review_decide"),
]
