from __future__ import annotations

from django.urls import path

from api.app import devicelinks, keys, onboarding, renewal, views

urlpatterns = [
    path("registrations", views.RegistrationCreate.as_view()),
    path("registrations/<uuid:registration_id>/keys", views.RegistrationKeys.as_view()),
    path("registrations/<uuid:registration_id>/shares", views.RegistrationShares.as_view()),
    path(
        "registrations/<uuid:registration_id>/keys/<str:purpose>/csr-signature",
        views.RegistrationCsrSignature.as_view(),
    ),
    path(
        "registrations/<uuid:registration_id>/certificates",
        views.registration_certificates,
    ),
    path("transactions/pending", views.pending_transactions),
    path("transactions/<uuid:transaction_id>", views.TransactionDetail.as_view()),
    path("transactions/<uuid:transaction_id>/confirm", views.TransactionConfirm.as_view()),
    path("transactions/<uuid:transaction_id>/refuse", views.TransactionRefuse.as_view()),
    path("keys/<str:document_number>/<str:purpose>/refresh", views.KeyRefresh.as_view()),
    path("accounts", views.AccountList.as_view()),
    # Re-key (§8).
    path("accounts/<str:document_number>/renewal", renewal.RenewalStart.as_view()),
    path("renewals/<uuid:renewal_id>/shares", renewal.RenewalShares.as_view()),
    path("renewals/<uuid:renewal_id>/complete", renewal.RenewalComplete.as_view()),
    path("renewals/<uuid:renewal_id>/certificates", renewal.renewal_certificates),
    # Key rotation (§9).
    path("device/key", keys.DeviceKeyRotate.as_view()),
    path("transport-key", keys.TransportKeyCurrent.as_view()),
    # RP API v3 device links (§7).
    path("device-links", devicelinks.DeviceLinkOpen.as_view()),
    # Remote onboarding (§6): authenticated by the application's bearer secret.
    path("onboarding", onboarding.OnboardingStart.as_view()),
    path("onboarding/<uuid:application_id>", onboarding.OnboardingStatus.as_view()),
    path("onboarding/<uuid:application_id>/passport", onboarding.OnboardingPassport.as_view()),
    path("onboarding/<uuid:application_id>/liveness", onboarding.OnboardingLiveness.as_view()),
    path("onboarding/<uuid:application_id>/frames", onboarding.OnboardingFrame.as_view()),
    path("onboarding/<uuid:application_id>/submit", onboarding.OnboardingSubmit.as_view()),
    path("onboarding/<uuid:application_id>/secondary", onboarding.OnboardingSecondary.as_view()),
]
