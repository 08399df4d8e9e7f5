"""The ground floor every app stands on: errors, the event bus, network and async-database
helpers, admin base classes, strict Base64 and clocks.

``core`` imports Django and ``signing.engine`` but no app of the project (the import
contracts in ``pyproject.toml`` enforce it), so any app may import it.
"""
