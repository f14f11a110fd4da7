"""The compose form: a message in Hindi and English, and its audience, checked against the sender's scope.

Text is normalised on the way in like every other input (:func:`sampark.core.text.clean`: NFC, no
invisible joiners, single spaces) but line by line, so the paragraphs of a message survive.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sampark.core.text import clean
from sampark.people import coverage
from sampark.people.models import Role
from sampark.people.scope import Action, scope_for
from sampark.transports import registry

from . import audiences, selectors
from .models import Audience, Message

_KEY_SEPARATORS = re.compile(r"[\s,;]+")

# What a channel's provider refuses a campaign message without (the outbox needs none of it):
# TRAI DLT blocks an SMS without its registered template id; WhatsApp sends campaign content outside
# the 24-hour window only as an approved template.
_CHANNEL_NEEDS: dict[str, tuple[str, Any]] = {
    "sms": ("sms_dlt_template_id", _("SMS in India needs the DLT template id its text is registered under")),
    "whatsapp": ("wa_template_name", _("WhatsApp campaign messages must use an approved template")),
}


def _bootstrap(form: forms.Form) -> None:
    """Bootstrap's classes on every widget (the templates render fields one by one)."""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
            css = "form-check-input"
        elif isinstance(widget, forms.Select):
            css = "form-select"
        else:
            css = "form-control"
        widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()


def normalise_text(value: str | None) -> str:
    """:func:`clean` each line; keep single line breaks and at most one empty line between paragraphs."""
    lines = [clean(line) for line in (value or "").splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


class AudienceForm(forms.Form):
    """Who: units (the sender's own subtrees, and more typed as unit keys), posts, channels."""

    units = forms.MultipleChoiceField(
        label=_("My areas"), required=False, widget=forms.CheckboxSelectMultiple
    )
    more_units = forms.CharField(
        label=_("More units"),
        required=False,
        max_length=2000,
        help_text=_("Unit keys separated by commas, e.g. block:1001, panchayat:5001, booth:1-2"),
    )
    roles = forms.MultipleChoiceField(
        label=_("Only people holding these posts"),
        choices=Role.choices,
        required=False,
        help_text=_("None selected: everyone in the areas."),
        widget=forms.SelectMultiple(attrs={"size": len(Role.choices)}),
    )
    tags = forms.CharField(
        label=_("Only people with these tags"),
        required=False,
        max_length=500,
        help_text=_("Tag names separated by commas; empty: any."),
    )
    channels = forms.MultipleChoiceField(
        label=_("Channels"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("choose at least one channel")},
    )
    one_channel = forms.BooleanField(
        label=_("Only one channel per person (the first they have, in the order above)"), required=False
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        units = selectors.compose_units(user)
        self.fields["units"].choices = units  # type: ignore[attr-defined]
        if not self.is_bound and len(units) == 1:
            self.initial.setdefault("units", [units[0][0]])  # one area of one's own: it is the audience
        self.fields["channels"].choices = selectors.channels_on()  # type: ignore[attr-defined]
        _bootstrap(self)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        keys: list[str] = list(data.get("units") or [])
        scope = scope_for(self.user, Action.BROADCAST)
        for text in _KEY_SEPARATORS.split(data.get("more_units") or ""):
            if not text:
                continue
            try:
                audiences.units_scope([text])
                unit = coverage.parse_unit(text)
            except (audiences.AudienceError, coverage.UnknownUnit) as exc:
                self.add_error("more_units", getattr(exc, "message", None) or f"{text}: {exc}")
                continue
            if not scope.contains(unit):
                self.add_error("more_units", _("%(unit)s: outside your area") % {"unit": text})
                continue
            keys.append(coverage.unit_key(unit))
        keys = list(dict.fromkeys(keys))
        if not keys and not self.has_error("more_units"):
            self.add_error("units", _("choose at least one unit"))
        data["unit_keys"] = keys
        data["tag_names"] = [clean(t) for t in (data.get("tags") or "").split(",") if clean(t)]
        return data

    def audience(self) -> Audience:
        """The unsaved audience (call after ``is_valid``)."""
        data = self.cleaned_data
        return Audience(
            units=data["unit_keys"],
            roles=list(data.get("roles") or []),
            tags=list(data.get("tag_names") or []),
            channels=list(data.get("channels") or []),
            one_channel=bool(data.get("one_channel")),
        )


class BroadcastForm(AudienceForm):
    """What, to whom, and when."""

    text_hi = forms.CharField(
        label=_("Message in Hindi"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "lang": "hi"}),
    )
    text_en = forms.CharField(
        label=_("Message in English"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "lang": "en"}),
    )
    link = forms.URLField(label=_("Link"), required=False, assume_scheme="https")
    media_url = forms.URLField(label=_("Image or video link"), required=False, assume_scheme="https")
    subject = forms.CharField(label=_("Email subject"), required=False, max_length=200)
    sms_dlt_template_id = forms.CharField(label=_("SMS DLT template id"), required=False, max_length=40)
    wa_template_name = forms.CharField(label=_("WhatsApp template name"), required=False, max_length=120)
    wa_template_language = forms.CharField(
        label=_("WhatsApp template language"),
        required=False,
        max_length=10,
        help_text=_("e.g. hi or en_US; empty: each person's language"),
    )
    wa_template_params = forms.CharField(
        label=_("WhatsApp template parameters"),
        required=False,
        max_length=2000,
        help_text=_("Separated by commas, in the template's order"),
    )
    mcmc_certificate = forms.CharField(
        label=_("MCMC certificate number"),
        required=False,
        max_length=80,
        help_text=_("Political advertisements need the district or state MCMC's pre-certification."),
    )
    ai_generated = forms.BooleanField(
        label=_("This contains synthetic / AI-generated content"),
        required=False,
        help_text=_("Such content must carry a visible label saying so."),
    )
    scheduled_at = forms.DateTimeField(
        label=_("Send at"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("India time. Empty: send now."),
    )

    def clean_text_hi(self) -> str:
        return normalise_text(self.cleaned_data.get("text_hi"))

    def clean_text_en(self) -> str:
        return normalise_text(self.cleaned_data.get("text_en"))

    def clean_subject(self) -> str:
        return clean(self.cleaned_data.get("subject"))

    def clean_mcmc_certificate(self) -> str:
        return clean(self.cleaned_data.get("mcmc_certificate"))

    def clean_sms_dlt_template_id(self) -> str:
        return clean(self.cleaned_data.get("sms_dlt_template_id"))

    def clean_wa_template_name(self) -> str:
        return clean(self.cleaned_data.get("wa_template_name"))

    def clean_wa_template_language(self) -> str:
        return clean(self.cleaned_data.get("wa_template_language"))

    def clean_wa_template_params(self) -> list[str]:
        text = self.cleaned_data.get("wa_template_params") or ""
        return [param for param in (clean(p) for p in text.split(",")) if param]

    def clean_scheduled_at(self) -> Any:
        when = self.cleaned_data.get("scheduled_at")
        if when is not None and when <= timezone.now():
            raise forms.ValidationError(_("this time has passed: choose a later one, or leave it empty"))
        return when

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        carriers = registry.configured()
        for channel in data.get("channels") or []:
            if channel not in _CHANNEL_NEEDS:
                continue
            field, message = _CHANNEL_NEEDS[channel]
            transport = carriers.get(channel)
            # The local outbox sends nothing anywhere: no provider rule applies to it.
            if transport is not None and transport.kind != "outbox" and not data.get(field):
                self.add_error(field, message)
        return data

    def message(self) -> Message:
        """The unsaved message (call after ``is_valid``)."""
        data = self.cleaned_data
        return Message(
            text_hi=data["text_hi"],
            text_en=data["text_en"],
            link=data["link"],
            media_url=data["media_url"],
            subject=data["subject"],
            sms_dlt_template_id=data["sms_dlt_template_id"],
            wa_template_name=data["wa_template_name"],
            wa_template_language=data["wa_template_language"],
            wa_template_params=data["wa_template_params"],
            mcmc_certificate=data["mcmc_certificate"],
            ai_generated=data["ai_generated"],
        )


class PreviewForm(forms.Form):
    """The message fields of the compose form, read leniently for the live preview."""

    text_hi = forms.CharField(required=False)
    text_en = forms.CharField(required=False)
    link = forms.CharField(required=False)
    ai_generated = forms.BooleanField(required=False)

    def message(self) -> Message:
        data = self.cleaned_data if self.is_valid() else {}
        return Message(
            text_hi=normalise_text(data.get("text_hi")),
            text_en=normalise_text(data.get("text_en")),
            link=clean(data.get("link")),
            ai_generated=bool(data.get("ai_generated")),
        )

    def channels(self) -> list[str]:
        """The chosen channels that are on (every channel that is on, when none is chosen yet)."""
        on = [channel for channel, _label in selectors.channels_on()]
        getlist = getattr(self.data, "getlist", None)
        chosen = set(getlist("channels") if getlist else self.data.get("channels") or [])
        return [channel for channel in on if channel in chosen] or on


class SimulatedMessageForm(forms.Form):
    """A message "from" the person on one of their contact points carried by the outbox."""

    point = forms.TypedChoiceField(label=_("Channel"), coerce=int)
    text = forms.CharField(
        label=_("Message"),
        max_length=1000,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": _("Message")}),
    )

    def __init__(self, *args: Any, points: list[selectors.PointChoice], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.points = {c.point.pk: c.point for c in points if c.simulated}
        self.fields["point"].choices = [(c.point.pk, c.label) for c in points if c.simulated]  # type: ignore[attr-defined]
        _bootstrap(self)

    def clean_text(self) -> str:
        text = clean(self.cleaned_data.get("text"))
        if not text:
            raise forms.ValidationError(_("write something"))
        return text
