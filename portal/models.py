"""State of the self-service portal: pending e-mail address verifications.

The login challenge lives in the server-side session (bound to one browser); the
portal's only table is the one-time links that prove a person reads an address.
"""

from __future__ import annotations

from django.db import models

from accounts.models import Person


class EmailVerification(models.Model):
    """A link sent to an address; the address becomes the person's when it is opened.

    Only the SHA-256 of the link's token is stored, so a database reader cannot
    verify anyone's address.
    """

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="+")
    email = models.EmailField(max_length=254)
    token_hash = models.BinaryField(max_length=32, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"verification of {self.email} for {self.person_id}"
