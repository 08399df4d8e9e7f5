"""The demo's people are the same people in every source that names them: the virtual
ID-card, the Mobile-ID simulator and the population registry agree on names and births,
so the walk-throughs (portal login, RA office, Mobile-ID onboarding) meet no stranger."""

from __future__ import annotations

from accounts.identifiers import personal_code_birth_date
from demo.mobileid.simulator import SUBSCRIBERS, Behaviour
from demo.registry import DEMO_REGISTRY
from demo.virtualcard import DEMO_CARDS
from enrolment.registry import normalise_name

REGISTRY = {row[0]: row for row in DEMO_REGISTRY}


def _registered_as(identifier: str, given_name: str, surname: str) -> None:
    assert identifier in REGISTRY, f"{identifier} is not in the demo registry"
    _, registry_given, registry_surname, born, status, _ = REGISTRY[identifier]
    assert normalise_name(registry_given) == normalise_name(given_name), identifier
    assert normalise_name(registry_surname) == normalise_name(surname), identifier
    assert born == personal_code_birth_date(identifier.split("-", 1)[1]), identifier
    assert status == "ALIVE", identifier


def test_every_virtual_card_holder_is_in_the_registry_under_the_same_name() -> None:
    assert DEMO_CARDS
    for card in DEMO_CARDS:
        _registered_as(card.semantics_identifier, card.given_name, card.surname)


def test_every_mobile_id_subscriber_who_answers_ok_is_in_the_registry() -> None:
    answering = [s for s in SUBSCRIBERS if s.behaviour == Behaviour.OK]
    assert answering
    for subscriber in answering:
        _registered_as(subscriber.semantics_identifier, subscriber.given_name, subscriber.surname)
