"""The split-key service, by sub-domain.

* ``registration`` — an account's keys: moduli, shares, the CSR signature, certificates;
* ``transactions`` — creating, reading and expiring transactions for a device;
* ``answers`` — the device's answer to a transaction: the split signature, or a refusal;
* ``lifecycle`` — suspending, resuming and closing an account;
* ``keystate`` — a key row and the engine: load, run the protocol, save; the app's answer;
* ``channels`` and ``errors`` — the event-bus channel names and the service errors.

Every operation that touches a key loads its row with ``select_for_update`` and runs
the engine's pure protocol (``signing.engine.protocol``) on it, so PIN tries are
counted exactly even under parallel answers (PostgreSQL row locks), then saves the new
state, the transaction's result and an audit record in the same database transaction.
"""
