"""Forms of the content pages. They parse and type the input only: every rule of the library (a
source for a claim, a certificate for a paid advertisement, the two-person approval) is checked by
:mod:`sampark.content.services`, whose errors the views put back on the field they name."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import models
from django.utils.translation import gettext_lazy as _

from .models import Item
from .services import EDITABLE

MAX_UPLOAD = 5 * 1024 * 1024  # a slogans CSV is a few hundred lines; anything bigger is a mistake


def bootstrap(form: forms.BaseForm) -> None:
    """Bootstrap's classes on every widget (the templates render fields one by one)."""
    for bound in form.fields.values():
        widget = bound.widget
        if isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
            css = "form-check-input"
        elif isinstance(widget, forms.Select):
            css = "form-select"
        else:
            css = "form-control"
        widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()


def _formfield(field: Any, **kwargs: Any) -> Any:
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")  # "x.in/r" means https://x.in/r
    return field.formfield(**kwargs)


class ItemForm(forms.ModelForm):
    """The editable fields of an item (never saved by the form: the view calls the services)."""

    class Meta:
        formfield_callback = _formfield
        model = Item
        fields = EDITABLE
        widgets = {
            "text_hi": forms.Textarea(attrs={"rows": 3, "lang": "hi"}),
            "text_en": forms.Textarea(attrs={"rows": 3, "lang": "en"}),
        }
        help_texts = {
            "factual_claim": _("It states a fact (a number, an event): give its source below."),
            "ai_generated": _("Labelled as synthetic wherever it is shown."),
            "paid_advertisement": _("Needs the MCMC pre-certification number."),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        bootstrap(self)


class SendBackForm(forms.Form):
    note = forms.CharField(label=_("What needs changing"), max_length=300, required=False)


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("Slogans CSV"),
        help_text=_(
            "UTF-8 CSV with a text_hi and/or text_en column; optional hashtags, topic, link, image_url, "
            "video_url, factual_claim, source_url, source_note, ai_generated, election_matter, "
            "paid_advertisement, mcmc_certificate."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs["accept"] = ".csv,text/csv"
        bootstrap(self)

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD:
            raise forms.ValidationError(_("the file is larger than 5 MB"))
        return upload
