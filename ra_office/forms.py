"""Forms of the RA office: field types and sizes here, business rules in the services."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Account
from enrolment.applications import ApplicationInput
from enrolment.tickets import normalise_typed_code
from ra_office.labels import DOCUMENT_TYPES, LEVELS, STATES

_TOTP = re.compile(r"[0-9]{6}")


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%d", **kwargs)


def _date_field(label: Any) -> forms.DateField:
    return forms.DateField(
        label=label,
        widget=DateInput(),
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": _("Enter a date as YYYY-MM-DD.")},
    )


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("User name"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )
    password = forms.CharField(
        label=_("Password"),
        max_length=200,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class TotpForm(forms.Form):
    # Authenticator apps show the code in groups ("123 456"): it is accepted as shown.
    token = forms.CharField(
        label=_("Six-digit code from your authenticator app"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_token(self) -> str:
        token = normalise_typed_code(self.cleaned_data["token"])
        if not _TOTP.fullmatch(token):
            raise forms.ValidationError(_("Enter the six digits your app shows."), code="invalid")
        return token


class SearchForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=100, required=False)
    state = forms.ChoiceField(label=_("State"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["state"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _("All")), *STATES.items()]


class FindPersonForm(forms.Form):
    semantics_identifier = forms.CharField(
        label=_("Personal code (semantics identifier)"),
        max_length=60,
        help_text=_("For example PNOEE-38001085718."),
    )


class ApplicationForm(forms.Form):
    semantics_identifier = forms.CharField(
        label=_("Personal code (semantics identifier)"),
        max_length=60,
        help_text=_("For example PNOEE-38001085718."),
    )
    given_name = forms.CharField(label=_("Given name"), max_length=100)
    surname = forms.CharField(label=_("Surname"), max_length=100)
    date_of_birth = _date_field(_("Date of birth"))
    document_type = forms.ChoiceField(label=_("Document type"), choices=DOCUMENT_TYPES.items())
    document_number = forms.CharField(label=_("Document number"), max_length=20)
    document_country = forms.CharField(
        label=_("Issuing country"), max_length=2, help_text=_("Two letters, e.g. EE.")
    )
    document_expiry = _date_field(_("Valid until"))
    document_checked = forms.BooleanField(
        label=_("I have checked the document and compared the photo with the person."),
        required=False,
    )
    email = forms.CharField(label=_("E-mail"), max_length=254, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    level = forms.ChoiceField(
        label=_("Account level"), choices=LEVELS.items(), initial=Account.Level.QUALIFIED
    )
    representative_name = forms.CharField(
        label=_("Legal representative's name"),
        max_length=200,
        required=False,
        help_text=_("Required for an applicant under 18."),
    )
    representative_identifier = forms.CharField(
        label=_("Legal representative's personal code"), max_length=60, required=False
    )
    representative_consent = forms.BooleanField(
        label=_("The legal representative consents and has signed the consent form."),
        required=False,
    )

    def application_input(self) -> ApplicationInput:
        data = self.cleaned_data
        return ApplicationInput(**{name: data[name] for name in self.fields})


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for cancelling"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class SignatureForm(forms.Form):
    received = forms.BooleanField(
        label=_("I have received the application signed by the customer."),
        error_messages={"required": _("Confirm that you have the signed paper.")},
    )
    scan = forms.FileField(
        label=_("Scan of the signed paper (optional: PDF, PNG or JPEG)"), required=False
    )


class ReviewForm(forms.Form):
    """A supervisor's decision on a remote application in the manual review queue."""

    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[
            ("approve", _("Approve: the person is the document's holder")),
            ("reject", _("Reject")),
        ],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("Note for the record"), max_length=500, widget=forms.Textarea(attrs={"rows": 3})
    )
