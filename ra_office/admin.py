"""Admin of the RA office's officers' second factor.

django-otp registers an admin for TOTP devices that shows each device's secret key and can
delete devices. An administrator who could read an officer's key (or delete the device, so
the next login enrols a new one) and reset the officer's password could approve flagged
applications as that supervisor — four eyes bypassed, and the audit log would name the
supervisor. So the TOTP device admin is removed; a lost phone is handled with
``manage.py reset_officer_totp`` (audited), never through the admin.
"""

from __future__ import annotations

from django.contrib import admin
from django_otp.plugins.otp_totp.models import TOTPDevice

if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)
