"""What the signing service tells the layers above it, without importing them.

``transaction_finished`` is sent once per transaction that reaches its result, after
the database transaction that recorded it commits (``sender`` is ``Transaction``,
``transaction`` the finished row). The RP API counts its sessions' end results with
it (``api.rp.metrics``): a session's end is its decisive transaction's, and
``signing.services.transactions.finish`` is the one place where that happens.
Receivers must be quick and must not write: they run inside the request that answered.
"""

from __future__ import annotations

from django.dispatch import Signal

transaction_finished = Signal()
