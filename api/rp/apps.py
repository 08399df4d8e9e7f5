from __future__ import annotations

from django.apps import AppConfig


class RelyingPartyApiConfig(AppConfig):
    name = "api.rp"
    label = "rp"
    verbose_name = "Relying parties"

    def ready(self) -> None:
        from api.rp import metrics
        from signing.signals import transaction_finished

        transaction_finished.connect(metrics.count_ended, dispatch_uid="rp-session-ended")
