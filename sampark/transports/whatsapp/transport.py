"""WhatsApp Business Platform (Cloud API): one POST per message over the dispatcher's aiohttp session.

Why not pywa's client: it sends over httpx, which managed 500-840 requests/s here against aiohttp's
7,000+ (STACK.md), and the Cloud API's JSON is small, so we build it ourselves. pywa still supplies the
error taxonomy (:mod:`pywa.errors`): its families (authorisation, throttling, integrity) classify the
codes our own table does not list. The decisions that matter to a campaign — which errors pause a
number, how long to wait — are ours, in :func:`classify`.

Policy: WhatsApp's Business Messaging Policy may exclude political campaigns, so the channel is off until
an operator attests eligibility (``SAMPARK_WHATSAPP_ELIGIBILITY_ATTESTED``); see :data:`POLICY_WARNING`.
Phone numbers are never logged and are scrubbed from provider text kept as a failure reason.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from pywa import errors as pywa_errors

from sampark.core import http
from sampark.transports.base import Limit, Outgoing, Transport, TransportError

POLICY_WARNING = _(
    "WhatsApp's Business Messaging Policy may exclude political parties, candidates and campaigns, "
    "and WhatsApp has banned party accounts for bulk sending. Turn this channel on only if your "
    "organisation is eligible, and message only people who agreed to hear from you on WhatsApp."
)

TEXT_MAX = 4096  # Cloud API limit on text.body
CAPTION_MAX = 1024  # Cloud API limit on a media caption
RATE_MIN, RATE_MAX = 1, 1000  # messages/s per number: Meta's default is 80, its ceiling 1,000

_SETTINGS = {
    "token": "SAMPARK_WHATSAPP_TOKEN",
    "phone_number_id": "SAMPARK_WHATSAPP_PHONE_NUMBER_ID",
    "app_secret": "SAMPARK_WHATSAPP_APP_SECRET",
    "verify_token": "SAMPARK_WHATSAPP_VERIFY_TOKEN",
}


class WhatsApp(Transport):
    """One WhatsApp business phone number on the Cloud API.

    Also holds the webhook secrets (``app_secret``, ``verify_token``) so that the webhook view and the
    sender agree on one configuration, built once by the registry.
    """

    kind = "whatsapp"
    channel = "whatsapp"

    def __init__(
        self,
        *,
        token: str,
        phone_number_id: str,
        app_secret: str,
        verify_token: str,
        api_base: str = "https://graph.facebook.com/v23.0",
        rate: int = 80,
        attestation: str = "",
    ) -> None:
        self.phone_number_id = phone_number_id
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.attestation = attestation
        self.url = f"{api_base.rstrip('/')}/{phone_number_id}/messages"
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._limit = Limit(rate)

    def __repr__(self) -> str:  # never the token or secrets
        return f"<WhatsApp {self.sender} {self._limit.count}/s>"

    @classmethod
    def from_settings(cls, settings: Any) -> WhatsApp | None:
        """None when no WhatsApp setting is given; otherwise a transport or ``ImproperlyConfigured``.

        Refuses to start half-configured (the webhook cannot be verified without the app secret), without
        an eligibility attestation, or with a rate outside 1..1000 messages/s.
        """
        values = {key: str(getattr(settings, name, "") or "").strip() for key, name in _SETTINGS.items()}
        missing = [_SETTINGS[key] for key, value in values.items() if not value]
        if len(missing) == len(_SETTINGS):
            return None
        if missing:
            raise ImproperlyConfigured(
                "WhatsApp is half-configured: set " + ", ".join(missing) + " as well, or none of the "
                "SAMPARK_WHATSAPP_* settings to turn the channel off."
            )
        if not values["phone_number_id"].isascii() or not values["phone_number_id"].isdigit():
            raise ImproperlyConfigured(
                "SAMPARK_WHATSAPP_PHONE_NUMBER_ID must be the numeric phone number id from the WhatsApp "
                "Manager, not the phone number."
            )
        attestation = str(getattr(settings, "SAMPARK_WHATSAPP_ELIGIBILITY_ATTESTED", "") or "").strip()
        if not attestation:
            raise ImproperlyConfigured(
                "WhatsApp is configured but SAMPARK_WHATSAPP_ELIGIBILITY_ATTESTED is empty. WhatsApp's "
                "Business Messaging Policy may exclude political parties, candidates and campaigns, and "
                "WhatsApp has banned party accounts for bulk sending. Set SAMPARK_WHATSAPP_ELIGIBILITY_ATTESTED "
                "(say, who confirmed eligibility and when) only if your organisation is eligible; "
                "otherwise leave every SAMPARK_WHATSAPP_* setting empty."
            )
        rate = getattr(settings, "SAMPARK_WHATSAPP_RATE", 80)
        if isinstance(rate, bool) or not isinstance(rate, int) or not RATE_MIN <= rate <= RATE_MAX:
            raise ImproperlyConfigured(
                f"SAMPARK_WHATSAPP_RATE must be a whole number of messages per second from {RATE_MIN} to "
                f"{RATE_MAX} (Meta's default is 80), not {rate!r}."
            )
        return cls(
            token=values["token"],
            phone_number_id=values["phone_number_id"],
            app_secret=values["app_secret"],
            verify_token=values["verify_token"],
            api_base=str(
                getattr(settings, "SAMPARK_WHATSAPP_API_BASE", "") or "https://graph.facebook.com/v23.0"
            ),
            rate=rate,
            attestation=attestation,
        )

    @property
    def sender(self) -> str:
        return f"wa:{self.phone_number_id}"

    @property
    def limit(self) -> Limit:
        return self._limit

    # The Cloud API's pair rate limit: about one message per 6 s to the same user (error 131056).
    per_recipient_seconds = 6.0

    def max_length(self) -> int | None:
        return TEXT_MAX

    def payload(self, message: Outgoing) -> dict[str, Any]:
        """The Cloud API JSON for one message: a template, an image, or text (in that order of precedence).

        The link, if any, follows the text on its own line (in the body, or in an image's caption, so it
        is never lost). Text longer than the Cloud API accepts is cut at a word boundary with an
        ellipsis; the link is never cut. An address that is not a phone number raises a permanent
        :class:`TransportError` before any request.
        """
        to = message.address.removeprefix("+")
        if not (to.isascii() and to.isdigit()):
            raise TransportError(
                gettext("The address is not a phone number."), permanent=True, code="address"
            )
        body: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
        if message.template_name:
            template: dict[str, Any] = {
                "name": message.template_name,
                "language": {"code": message.template_language or message.language},
            }
            if message.template_params:
                template["components"] = [
                    {
                        "type": "body",
                        "parameters": [{"type": "text", "text": p} for p in message.template_params],
                    }
                ]
            body.update(type="template", template=template)
        elif message.media_url:
            image: dict[str, Any] = {"link": message.media_url}
            caption = _with_link(message.text, message.link, CAPTION_MAX)
            if caption:  # the Cloud API refuses an empty caption
                image["caption"] = caption
            body.update(type="image", image=image)
        else:
            body.update(
                type="text",
                text={
                    "body": _with_link(message.text, message.link, TEXT_MAX),
                    "preview_url": bool(message.link),
                },
            )
        return body

    async def send(self, session: aiohttp.ClientSession, message: Outgoing) -> str:
        """POST the message; return its ``wamid`` or raise :class:`TransportError` (see :func:`classify`)."""
        # ensure_ascii=False: Devanagari goes as 3 UTF-8 bytes per character instead of a 6-byte escape.
        data = json.dumps(self.payload(message), ensure_ascii=False, separators=(",", ":")).encode()
        answer = await http.post(session, self.url, data=data, headers=self._headers, service="WhatsApp")
        status, raw, headers = answer.status, answer.body, answer.headers
        if 200 <= status < 300:
            try:
                return str(json.loads(raw)["messages"][0]["id"])
            except (ValueError, KeyError, IndexError, TypeError):
                # Accepted but unreadable: retrying may send twice, which the outbox rule tolerates.
                raise TransportError(
                    gettext("WhatsApp accepted the message but returned no message id."),
                    permanent=False,
                    code="",
                ) from None
        raise classify(status, raw, headers)


# --- failures --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rule:
    reason: Promise | str
    permanent: bool
    retry_after: float | None = None
    pause_sender: bool = False


_TEMPORARY = _Rule(_("WhatsApp had a temporary problem; trying again later."), permanent=False)
_AUTH = _Rule(
    _(
        "WhatsApp refused our access token or its permissions: sending from this number is paused until "
        "SAMPARK_WHATSAPP_TOKEN is fixed."
    ),
    permanent=False,  # the message itself is fine; it can go once the configuration is
    pause_sender=True,
)
_RESTRICTED = _Rule(
    _("WhatsApp has restricted or locked this business account: sending from this number is paused."),
    permanent=False,
    pause_sender=True,
)

# Graph error code -> what we do. Codes not listed fall back to pywa's families, then to the HTTP status.
_RULES: dict[int, _Rule] = {
    # Throughput (per-number messages/s): our limiter should prevent it; a second refills the bucket.
    130429: _Rule(
        _("WhatsApp's throughput limit for this number was reached; trying again in a second."),
        permanent=False,
        retry_after=1.0,
    ),
    # Pair rate limit: about one message per 6 s to the same person, so a retry 6 s later lands in a
    # fresh window. Meta asks for 4^X s on repeated hits; the dispatcher's backoff grows from this.
    131056: _Rule(
        _("Too many messages to this person in a short time; trying again in a few seconds."),
        permanent=False,
        retry_after=6.0,
    ),
    # Spam rate limit: not transient. Retrying makes the number's standing worse; stop and alert.
    131048: _Rule(
        _(
            "WhatsApp's spam rate limit was hit: sending from this number is paused. Check the number's "
            "quality rating before resuming."
        ),
        permanent=False,
        pause_sender=True,
    ),
    # Per-user marketing cap: Meta says wait at least 24 hours; sooner only earns the same error.
    131049: _Rule(
        _(
            "WhatsApp held this message back to limit marketing messages to this person; trying again in 24 hours."
        ),
        permanent=False,
        retry_after=24 * 3600.0,
    ),
    131047: _Rule(
        _("More than 24 hours since this person last wrote to us: only an approved template can be sent."),
        permanent=True,
    ),
    131026: _Rule(
        _(
            "This message cannot be delivered on WhatsApp (not a WhatsApp number, or an old app); use another channel."
        ),
        permanent=True,
    ),
    131050: _Rule(_("This person has stopped marketing messages from us on WhatsApp."), permanent=True),
    # App-level Graph call limits: they reset within the hour; a minute keeps retries sparse.
    4: _Rule(
        _("WhatsApp's API call limit was reached; trying again in a minute."),
        permanent=False,
        retry_after=60.0,
    ),
    80007: _Rule(
        _("WhatsApp's API call limit was reached; trying again in a minute."),
        permanent=False,
        retry_after=60.0,
    ),
    131064: _Rule(
        _("This WhatsApp account has reached its messaging limit: sending from this number is paused."),
        permanent=False,
        pause_sender=True,
    ),
    131042: _Rule(
        _("WhatsApp reports a payment problem on the business account: sending from this number is paused."),
        permanent=False,
        pause_sender=True,
    ),
    131005: _AUTH,  # permission removed
    368: _RESTRICTED,
    131031: _RESTRICTED,
    # Unknown / service errors (Graph 1 "API unknown", 2 "API service", 131000, 131016 unavailable).
    1: _TEMPORARY,
    2: _TEMPORARY,
    131000: _TEMPORARY,
    131016: _TEMPORARY,
    131057: _Rule(_("The WhatsApp business account is in maintenance; trying again later."), permanent=False),
}

# "+91 98765 43210", "919876543210": any run of 7+ digits (with spaces or dashes) may be a phone number.
_PHONE_LIKE = re.compile(r"\+?\d[\d \-]{5,}\d")
_DETAIL_MAX = 300


def scrub(text: str) -> str:
    """Provider text safe to store and show: phone-like digit runs masked, length bounded."""
    text = _PHONE_LIKE.sub("…", " ".join(text.split()))
    return text if len(text) <= _DETAIL_MAX else text[: _DETAIL_MAX - 1] + "…"


def classify(status: int, body: bytes, headers: Mapping[str, str]) -> TransportError:
    """The :class:`TransportError` for a non-2xx answer, from the Graph error JSON and the HTTP status.

    Order: our table by Graph code; pywa's families (authorisation → pause the number, throttling →
    transient); Graph's ``is_transient``; HTTP 429 / 5xx → transient; 401/403 → pause; any other 4xx →
    permanent with the provider's (scrubbed) message. ``Retry-After`` extends a transient wait.
    ``code`` is the Graph code as a string, or ``http_<status>`` when the answer carries none.
    """
    error = _graph_error(body)
    header_wait = _retry_after(headers.get("Retry-After", ""))
    if error is None:
        code = f"http_{status}"
        if status == 429:
            return TransportError(
                gettext("WhatsApp asked us to slow down; trying again later."),
                permanent=False,
                code=code,
                retry_after=header_wait,
            )
        if status >= 500:
            return _error(_TEMPORARY, code, header_wait)
        if status in (401, 403):
            return _error(_AUTH, code, None)
        return TransportError(
            gettext("WhatsApp refused this message (HTTP %(status)s).") % {"status": status},
            permanent=True,
            code=code,
        )

    number = error.code
    code = str(number)
    rule = _RULES.get(number)
    if rule is None:
        if isinstance(error, pywa_errors.AuthorizationError) or status == 401:
            rule = _AUTH
        elif isinstance(error, pywa_errors.IntegrityError) and number != 130497:
            rule = _RESTRICTED  # 130497 (country restricted) concerns the recipient only: permanent below
        elif (
            isinstance(error, pywa_errors.ThrottlingError)
            or error.is_transient
            or status == 429
            or status >= 500
        ):
            rule = _TEMPORARY
    if rule is not None:
        return _error(rule, code, header_wait)
    detail = scrub(" — ".join(part for part in (error.message, error.details or "") if part)) or code
    return TransportError(
        gettext("WhatsApp refused this message: %(detail)s") % {"detail": detail}, permanent=True, code=code
    )


def _error(rule: _Rule, code: str, header_wait: float | None) -> TransportError:
    waits = [w for w in (rule.retry_after, header_wait) if w is not None]
    return TransportError(
        str(rule.reason),
        permanent=rule.permanent,
        code=code,
        retry_after=None if rule.permanent or not waits else max(waits),
        pause_sender=rule.pause_sender,
    )


def _graph_error(body: bytes) -> pywa_errors.WhatsAppError | None:
    """pywa's error object for a Graph ``{"error": {...}}`` body, or None when the body is not one."""
    try:
        error = json.loads(body)["error"]
        number = int(error["code"])
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(error, dict):
        return None
    error_data = error.get("error_data")
    return pywa_errors.WhatsAppError.from_dict(
        {
            **error,
            "code": number,
            "message": str(error.get("message") or ""),
            "error_data": error_data if isinstance(error_data, dict) else {"details": error_data},
        }
    )


def _retry_after(value: str) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), None when absent or bad."""
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - datetime.datetime.now(datetime.UTC)).total_seconds())


# --- text ------------------------------------------------------------------------------------------------


def _with_link(text: str, link: str, limit: int) -> str:
    """``text`` plus the link on its own line, within ``limit`` characters; the text gives way, never the link."""
    suffix = f"\n{link}" if link else ""
    return cut(text, limit - len(suffix)) + suffix if text else link


def cut(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters: cut at the last space in the final tenth, else hard, plus "…".

    Cutting at a space keeps Devanagari conjuncts (consonant + virama + consonant) whole.
    """
    if len(text) <= limit:
        return text
    if limit <= 1:
        return text[: max(limit, 0)]
    head = text[: limit - 1]
    space = head.rfind(" ", limit - 1 - max(1, limit // 10))
    return (head[:space].rstrip() if space > 0 else head) + "…"
