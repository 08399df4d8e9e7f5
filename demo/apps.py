from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Everything that stands in for the outside world or fills the demo.

    Installed in every mode but ``live`` (``smartid.settings``; a system check refuses it
    there). Its ``ready()`` plugs the test doubles into the apps that accept them: the
    virtual ID-card into the portal, the Mobile-ID simulator's CA into the Mobile-ID client.
    """

    name = "demo"
    verbose_name = "Demo and test doubles"

    def ready(self) -> None:
        from django.urls import reverse

        from demo import virtualcard
        from demo.mobileid import simulator
        from enrolment.mobileid import config as mobileid_config
        from portal import testcards

        testcards.register(
            testcards.TestCardIssuer(
                certificate=lambda: virtualcard.authority().certificate,
                ocsp_client=lambda fallback: virtualcard.in_process_client(
                    virtualcard.authority(), fallback, virtualcard.revoked_serials
                ),
                cards=lambda: virtualcard.DEMO_CARDS,
                token_url=lambda: reverse("demo:virtual-card-token"),
            )
        )
        mobileid_config.register_test_anchors(simulator.simulator_trust_anchors)
