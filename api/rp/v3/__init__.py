"""Relying-party API v3 (docs/spec/rp-api.md §5): device-link and notification flows.

``transactions`` turns a v3 session into the person's transactions (both the notification
start and the opening of a device link use it).
"""
