"""Email through Django's configured backend (SMTP via ``EMAIL_URL`` in production).

On when ``SAMPARK_EMAIL_FROM`` is set. Django's mail API is blocking, so each send runs in a worker
thread (``asyncio.to_thread``) with its own connection: connections are not shared between threads,
and at the default 20 messages/s the extra SMTP handshake is not the bottleneck. The provider message
id is the ``Message-ID`` header we set ourselves, which is what bounces and replies quote back.

Every send has a deadline (``SAMPARK_EMAIL_TIMEOUT_SECONDS``, else the HTTP seam's total timeout): the
SMTP socket times out each read and write, and the whole send is abandoned when the deadline passes, so
a server that accepts the connection and never answers costs one timeout, not a lease.

Errors: a refused recipient is permanent; any other SMTP or socket failure is transient, and a failed
login also pauses the sender (every message would fail the same way until the password is fixed).
"""

from __future__ import annotations

import asyncio
import smtplib
from email.utils import make_msgid, parseaddr
from typing import Any

import aiohttp
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email

from sampark.core import http
from sampark.transports.base import Limit, Outgoing, Transport, TransportError

SUBJECT_LENGTH = 80


def subject_for(message: Outgoing) -> str:
    """The given subject, else the text's first line; on one line (a newline in a header is refused)
    and at most 80 characters."""
    source = message.subject or next((line for line in message.text.splitlines() if line.strip()), "")
    subject = " ".join(source.split())
    return subject if len(subject) <= SUBJECT_LENGTH else subject[: SUBJECT_LENGTH - 1].rstrip() + "…"


def body_for(message: Outgoing) -> str:
    return f"{message.text}\n\n{message.link}\n" if message.link else f"{message.text}\n"


class EmailTransport(Transport):
    kind = "email"
    channel = "email"

    def __init__(self, *, from_email: str, rate: int, timeout_s: float = http.TOTAL_TIMEOUT_S) -> None:
        _name, address = parseaddr(from_email)
        try:
            validate_email(address)
        except ValidationError:
            raise ImproperlyConfigured(
                "SAMPARK_EMAIL_FROM is not an email address (or 'Name <address>')."
            ) from None
        if rate < 1:
            raise ImproperlyConfigured("SAMPARK_EMAIL_RATE must be at least 1.")
        if not timeout_s > 0:
            raise ImproperlyConfigured("SAMPARK_EMAIL_TIMEOUT_SECONDS must be above 0.")
        self.timeout_s = float(timeout_s)
        self.from_email = from_email
        self.from_address = address
        # Message-IDs in our own domain (not the worker's host name, which may not resolve at all).
        self.msgid_domain = address.rpartition("@")[2]
        self._limit = Limit(rate)

    @classmethod
    def from_settings(cls, settings: Any) -> EmailTransport | None:
        from_email = getattr(settings, "SAMPARK_EMAIL_FROM", "") or ""
        if not from_email:
            return None
        return cls(
            from_email=from_email,
            rate=int(getattr(settings, "SAMPARK_EMAIL_RATE", 20)),
            timeout_s=float(getattr(settings, "SAMPARK_EMAIL_TIMEOUT_SECONDS", http.TOTAL_TIMEOUT_S)),
        )

    @property
    def sender(self) -> str:
        return f"email:{self.from_address}"

    @property
    def limit(self) -> Limit:
        return self._limit

    def build(self, message: Outgoing) -> EmailMessage:
        """The email for ``message``; its ``Message-ID`` header is the provider id."""
        return EmailMessage(
            subject=subject_for(message),
            body=body_for(message),
            from_email=self.from_email,
            to=[message.address],
            headers={
                "Message-ID": make_msgid(domain=self.msgid_domain),
                "Content-Language": message.language,
            },
        )

    def _deliver(self, email: EmailMessage) -> int:
        # The socket timeout bounds every SMTP read and write (backends without sockets ignore it).
        connection = get_connection(fail_silently=False, timeout=self.timeout_s)
        return connection.send_messages([email]) or 0

    async def send(self, session: aiohttp.ClientSession, message: Outgoing) -> str:
        email = self.build(message)
        try:
            # The overall deadline: a handshake of several slow steps must not add up past it. The
            # thread is left to end on its own socket timeout; the row is free to be retried.
            sent = await asyncio.wait_for(asyncio.to_thread(self._deliver, email), self.timeout_s)
        except TimeoutError:  # the deadline, or the socket's own timeout (socket.timeout is TimeoutError)
            raise TransportError(
                "the mail server did not answer in time", permanent=False, code="timeout"
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _text in exc.recipients.values()]
            # smtplib calls any non-2xx RCPT reply "refused"; a 4xx (greylisting, mailbox busy) is the
            # server asking us to come back later, only a 5xx is final.
            permanent = all(code >= 500 for code in codes)
            raise TransportError(
                "the mail server refused the recipient"
                if permanent
                else "the mail server deferred the recipient",
                permanent=permanent,
                code=",".join(str(code) for code in codes),
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise TransportError(
                "the mail server refused our login",
                permanent=False,
                code=str(exc.smtp_code),
                pause_sender=True,
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise TransportError(
                f"the mail server answered {exc.smtp_code}", permanent=False, code=str(exc.smtp_code)
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise TransportError(
                f"mail server unreachable ({type(exc).__name__})", permanent=False, code="smtp"
            ) from None
        except ValueError:
            # Django refuses addresses it cannot encode into a header (a newline, say); no retry fixes it.
            raise TransportError("not a valid email address", permanent=True, code="bad_address") from None
        if sent != 1:
            raise TransportError(
                "the mail backend did not send the message", permanent=False, code="not_sent"
            )
        return str(email.extra_headers["Message-ID"])
