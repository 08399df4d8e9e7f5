"""The demo RP's forms: a personal code, and a PDF to sign."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from demo.rp.pdf import PdfRefused, check_pdf

#: The largest PDF the demo signs.
MAX_PDF_BYTES = 10 * 1024 * 1024
COUNTRIES = [
    ("EE", _("Estonia")),
    ("LV", _("Latvia")),
    ("LT", _("Lithuania")),
    ("BE", _("Belgium")),
]
_CODE = re.compile(r"[0-9]{6}(-?[0-9]{5})?|[0-9]{11}")


class PersonalCodeForm(forms.Form):
    country = forms.ChoiceField(label=_("Country"), choices=COUNTRIES, initial="EE")
    personal_code = forms.CharField(
        label=_("Personal code"),
        max_length=20,
        help_text=_("For example 40504040001 (a demo account that answers OK)."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )

    def clean_personal_code(self) -> str:
        code = str(self.cleaned_data["personal_code"]).strip()
        if not _CODE.fullmatch(code):
            raise forms.ValidationError(_("Enter a personal code of digits, e.g. 40504040001."))
        return code

    @property
    def semantics_identifier(self) -> str:
        return f"PNO{self.cleaned_data['country']}-{self.cleaned_data['personal_code']}"


_REFUSALS = {
    "not_pdf": _("This file is not a PDF document."),
    "encrypted": _("This PDF is encrypted (password-protected); upload one without a password."),
    "malformed": _("This PDF cannot be read."),
    "signed": _("This PDF already has a signature field named Signature1."),
}


def too_large() -> forms.ValidationError:
    return forms.ValidationError(
        _("The file is larger than %(limit)d MB.") % {"limit": MAX_PDF_BYTES // (1024 * 1024)}
    )


class UploadForm(forms.Form):
    document = forms.FileField(
        label=_("PDF document"),
        help_text=_("At most 10 MB, not password-protected."),
        widget=forms.ClearableFileInput(attrs={"accept": "application/pdf,.pdf"}),
    )

    def clean_document(self) -> Any:
        upload = self.cleaned_data["document"]
        if upload.size > MAX_PDF_BYTES:
            raise too_large()
        data = upload.read()
        try:
            check_pdf(data)
        except PdfRefused as exc:
            raise forms.ValidationError(_REFUSALS[exc.reason]) from None
        self.data_bytes = data
        return upload
