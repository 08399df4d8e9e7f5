"""How many biometric checks may run at once: per client address and in total.

Face matching and liveness cost about a second of CPU per applicant (docs/biometrics.md), so
a burst of submissions — or one client submitting many applications — could occupy every
worker. An application takes one slot of its client address's budget
(``BIOMETRIC_CHECKS_PER_ADDRESS``) and one of the global budget
(``BIOMETRIC_CHECKS_TOTAL``) when it is submitted, and gives them back when its biometric
steps are over (:func:`checks_release`, called by the runner). A submission that finds a
budget full is refused (429 for the address, 503 for the service) and changes nothing.

The slots live in the shared cache, so every web and worker node counts the same ones (Redis
in production; the embedded mode has one process, whose local cache is enough). A budget of
N is N keys ``<budget>:0`` … ``<budget>:N-1``; taking a slot is ``cache.add`` of a free key,
which Redis does atomically (``SET NX``), so two nodes can never take the same key. Every
key expires after ``BIOMETRIC_SLOT_SECONDS``: a worker that crashes mid-check never gives
its slot back, and the expiry does it instead.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from enrolment.onboarding.common import AppId, ChecksBusy

PREFIX = "onboarding:checks"
#: What a refused submission is told to wait: a check takes a second or two.
RETRY_AFTER_SECONDS = 10


def _held_key(holder: str) -> str:
    return f"{PREFIX}:held:{holder}"


def _take(budget: str, size: int, holder: str, ttl: int) -> tuple[str | None, bool]:
    """A slot of ``budget`` for ``holder``: (its key, whether newly taken); (None, False)
    when all ``size`` slots belong to others."""
    keys = [f"{budget}:{index}" for index in range(size)]
    owners = cache.get_many(keys)
    for key, owner in owners.items():
        if owner == holder:  # a repeated submission of the same application
            cache.touch(key, ttl)
            return key, False
    for key in keys:
        if key not in owners and cache.add(key, holder, ttl):
            return key, True
    return None, False


def _give_back(keys: list[str], holder: str) -> None:
    for key in keys:
        # Only while it is still ours: after its expiry another application may hold it.
        # (Between this read and the delete a slot can change hands; the price is one
        # check more than the budget, once, so no atomic compare-and-delete is needed.)
        if cache.get(key) == holder:
            cache.delete(key)


def checks_admit(*, application_id: AppId, address: str | None) -> list[str]:
    """Take the application's slots of the address's and the global budget.

    Returns the keys this call newly took (give them back with :func:`checks_abandon` if
    the submission then fails). Raises :class:`ChecksBusy` — 429 ``too_many_requests`` for
    the address, 503 ``checks_busy`` for the service — and then holds nothing.
    """
    holder = str(application_id)
    ttl = settings.BIOMETRIC_SLOT_SECONDS
    budgets = [(f"{PREFIX}:all", settings.BIOMETRIC_CHECKS_TOTAL)]
    if address:
        budgets.insert(0, (f"{PREFIX}:ip:{address}", settings.BIOMETRIC_CHECKS_PER_ADDRESS))
    held: list[str] = []
    taken: list[str] = []
    for budget, size in budgets:
        key, new = _take(budget, size, holder, ttl)
        if key is None:
            _give_back(taken, holder)
            if budget.startswith(f"{PREFIX}:ip:"):
                raise ChecksBusy(
                    "Your earlier applications are still being checked; try again shortly.",
                    code="too_many_requests",
                    status=429,
                    retry_after=RETRY_AFTER_SECONDS,
                )
            raise ChecksBusy(
                "The service is checking many applications; try again shortly.",
                code="checks_busy",
                status=503,
                retry_after=RETRY_AFTER_SECONDS,
            )
        held.append(key)
        if new:
            taken.append(key)
    cache.set(_held_key(holder), held, ttl)
    return taken


def checks_abandon(*, application_id: AppId, taken: list[str]) -> None:
    """Give back the slots :func:`checks_admit` took for a submission that then failed."""
    _give_back(taken, str(application_id))


def checks_release(*, application_id: AppId) -> None:
    """The application's biometric checks are over: give its slots back (idempotent)."""
    holder = str(application_id)
    keys = cache.get(_held_key(holder))
    if not keys:
        return
    _give_back(list(keys), holder)
    cache.delete(_held_key(holder))
