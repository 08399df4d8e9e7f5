"""The demo and the test doubles of the outside world (never installed in live)."""
