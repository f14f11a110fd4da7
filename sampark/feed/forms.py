"""Coordinator forms: how long a feed link lasts, and a click-to-chat assignment.

They only parse; the rules (scope, units, batch sizes) are the services' and come back as errors on the
field they name.
"""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from . import services


def _bootstrap(form: forms.Form) -> None:
    """Bootstrap's classes on every widget (the templates render fields one by one)."""
    for field in form.fields.values():
        css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
        field.widget.attrs["class"] = f"{field.widget.attrs.get('class', '')} {css}".strip()


class LinkForm(forms.Form):
    days = forms.IntegerField(
        label=_("Valid for (days)"), min_value=1, max_value=services.MAX_LINK_DAYS, initial=180
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        _bootstrap(self)


class AssignmentForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=120)
    template = forms.CharField(
        label=_("Message"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("{name} becomes each contact's name. The volunteer opens WhatsApp and presses send."),
    )
    unit_key = forms.CharField(
        label=_("Booth or panchayat"),
        max_length=40,
        help_text=_("e.g. booth:1-2 or panchayat:5001"),
    )
    batch_size = forms.IntegerField(
        label=_("Contacts per volunteer batch"), min_value=1, max_value=services.MAX_BATCH, initial=25
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        _bootstrap(self)
