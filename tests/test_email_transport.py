"""Email: configuration, the message built, delivery through Django's backend, and SMTP failures
classified against a small local SMTP server."""

from __future__ import annotations

import asyncio
import socket
import socketserver
import threading
import time
from email.utils import parseaddr

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured

from sampark.core.http import async_session
from sampark.transports import registry
from sampark.transports.base import Limit, Outgoing, TransportError
from sampark.transports.email.transport import EmailTransport

FROM = "Sampark Bihar <sampark@campaign.example.in>"


@pytest.fixture
def email_settings(settings):
    registry.reset()
    settings.SAMPARK_EMAIL_FROM = FROM
    settings.SAMPARK_EMAIL_RATE = 20
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    yield settings
    registry.reset()


def send(transport: EmailTransport, message: Outgoing) -> str:
    async def go() -> str:
        async with async_session() as session:
            return await transport.send(session, message)

    return asyncio.run(go())


def failure(transport: EmailTransport, message: Outgoing) -> TransportError:
    with pytest.raises(TransportError) as caught:
        send(transport, message)
    return caught.value


def message(**fields) -> Outgoing:
    return Outgoing(
        **{
            "delivery_id": 1,
            "address": "asha@example.org",
            "text": "सभा आज शाम 5 बजे\nगांधी मैदान में मिलिए।",
            **fields,
        }
    )


def transport() -> EmailTransport:
    return EmailTransport(from_email=FROM, rate=20)


# --- configuration -------------------------------------------------------------------------------


def test_it_is_off_without_a_from_address(settings):
    settings.SAMPARK_EMAIL_FROM = ""
    assert EmailTransport.from_settings(settings) is None


def test_it_is_on_with_a_from_address(email_settings):
    email_settings.SAMPARK_EMAIL_RATE = 5
    built = EmailTransport.from_settings(email_settings)
    assert built is not None
    assert (built.kind, built.channel) == ("email", "email")
    assert built.sender == "email:sampark@campaign.example.in"
    assert built.limit == Limit(5)
    assert built.max_length() is None


@pytest.mark.parametrize("from_email", ["sampark", "Sampark <not an address>"])
def test_it_refuses_a_from_address_that_is_not_one(settings, from_email):
    settings.SAMPARK_EMAIL_FROM = from_email
    with pytest.raises(ImproperlyConfigured):
        EmailTransport.from_settings(settings)


# --- sending -------------------------------------------------------------------------------------


def test_it_sends_through_djangos_backend_and_returns_the_message_id(email_settings):
    provider_id = send(transport(), message(link="https://example.org/r/3", language="hi"))
    [sent] = mail.outbox
    assert sent.subject == "सभा आज शाम 5 बजे"
    assert sent.body == "सभा आज शाम 5 बजे\nगांधी मैदान में मिलिए।\n\nhttps://example.org/r/3\n"
    assert sent.from_email == FROM
    assert sent.to == ["asha@example.org"]
    assert sent.extra_headers["Content-Language"] == "hi"
    rendered = sent.message()
    assert rendered["Message-ID"] == provider_id
    assert parseaddr(provider_id)[1].endswith("@campaign.example.in")


def test_it_gives_every_message_its_own_id(email_settings):
    ids = {send(transport(), message()) for _ in range(3)}
    assert len(ids) == 3


def test_it_uses_the_given_subject_on_one_line(email_settings):
    send(transport(), message(subject="Rally\ntonight  at 5"))
    assert mail.outbox[0].subject == "Rally tonight at 5"


def test_it_cuts_a_long_first_line_to_eighty_characters_for_the_subject(email_settings):
    send(transport(), message(text="म" * 200 + "\nsecond line"))
    subject = mail.outbox[0].subject
    assert len(subject) == 80
    assert subject == "म" * 79 + "…"


# --- SMTP failures -------------------------------------------------------------------------------


class FakeSmtp(socketserver.ThreadingTCPServer):
    """Just enough SMTP for smtplib: answers RCPT and AUTH as told, accepts everything else."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, *, rcpt_reply: str = "250 OK", auth_reply: str = "235 OK", greeting: str = "220 fake"
    ) -> None:
        self.rcpt_reply = rcpt_reply
        self.auth_reply = auth_reply
        self.greeting = greeting
        self.delivered: list[bytes] = []
        super().__init__(("127.0.0.1", 0), _SmtpSession)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def __enter__(self) -> FakeSmtp:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


class _SmtpSession(socketserver.StreamRequestHandler):
    server: FakeSmtp

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply(self.server.greeting)
        if not self.server.greeting.startswith("220"):
            return
        while line := self.rfile.readline():
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"EHLO":
                self.wfile.write(b"250-fake\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n")
            elif verb == b"AUTH":
                self.reply(self.server.auth_reply)
            elif verb == b"RCPT":
                self.reply(self.server.rcpt_reply)
            elif verb == b"DATA":
                self.reply("354 go ahead")
                data = b""
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data += chunk
                self.server.delivered.append(data)
                self.reply("250 queued")
            elif verb == b"QUIT":
                self.reply("221 bye")
                return
            else:  # MAIL, RSET, NOOP
                self.reply("250 OK")


@pytest.fixture
def smtp_settings(email_settings, django_mail_patch_dns):
    email_settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    email_settings.EMAIL_HOST = "127.0.0.1"
    email_settings.EMAIL_HOST_USER = ""
    email_settings.EMAIL_HOST_PASSWORD = ""
    email_settings.EMAIL_USE_TLS = False
    email_settings.EMAIL_USE_SSL = False
    email_settings.EMAIL_TIMEOUT = 5
    return email_settings


def test_it_delivers_over_smtp(smtp_settings):
    with FakeSmtp() as server:
        smtp_settings.EMAIL_PORT = server.port
        provider_id = send(transport(), message())
    [data] = server.delivered
    assert f"Message-ID: {provider_id}".encode() in data


def test_it_gives_up_when_the_server_refuses_the_recipient(smtp_settings):
    with FakeSmtp(rcpt_reply="550 5.1.1 no such user") as server:
        smtp_settings.EMAIL_PORT = server.port
        error = failure(transport(), message())
    assert (error.permanent, error.code) == (True, "550")
    assert server.delivered == []


def test_it_retries_when_the_server_defers_the_recipient(smtp_settings):
    # smtplib reports a 4xx on RCPT as "refused" too, but the server is asking us to come back later.
    with FakeSmtp(rcpt_reply="451 4.7.1 greylisted, try again") as server:
        smtp_settings.EMAIL_PORT = server.port
        error = failure(transport(), message())
    assert (error.permanent, error.code) == (False, "451")


def test_it_retries_when_the_server_turns_us_away(smtp_settings):
    with FakeSmtp(greeting="421 too busy") as server:
        smtp_settings.EMAIL_PORT = server.port
        error = failure(transport(), message())
    assert (error.permanent, error.code) == (False, "421")


def test_it_retries_when_the_server_is_unreachable(smtp_settings):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        smtp_settings.EMAIL_PORT = probe.getsockname()[1]
    error = failure(transport(), message())
    assert (error.permanent, error.code) == (False, "smtp")


def test_it_pauses_the_sender_when_the_login_is_refused(smtp_settings):
    smtp_settings.EMAIL_HOST_USER = "sampark"
    smtp_settings.EMAIL_HOST_PASSWORD = "wrong"
    with FakeSmtp(auth_reply="535 5.7.8 authentication failed") as server:
        smtp_settings.EMAIL_PORT = server.port
        error = failure(transport(), message())
    assert (error.permanent, error.pause_sender, error.code) == (False, True, "535")


def test_it_gives_up_on_an_address_that_cannot_be_a_header(email_settings):
    error = failure(transport(), message(address="asha@example.org\nBcc: everyone@example.org"))
    assert (error.permanent, error.code) == (True, "bad_address")
    assert mail.outbox == []


def test_it_carries_the_email_channel_once_registered(email_settings, monkeypatch):
    monkeypatch.setitem(registry.TRANSPORTS, "email", "sampark.transports.email.transport.EmailTransport")
    registry.reset()
    assert isinstance(registry.for_channel("email"), EmailTransport)


def test_it_gives_up_on_a_server_that_accepts_and_never_answers_within_its_timeout(smtp_settings):
    # Accepts the connection and says nothing (no greeting): before, smtplib waited forever and the
    # worker held the row's lease until it expired.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        smtp_settings.EMAIL_PORT = silent.getsockname()[1]
        smtp_settings.EMAIL_TIMEOUT = None  # the transport's own deadline, not Django's, bounds the send
        started = time.monotonic()
        error = failure(EmailTransport(from_email=FROM, rate=20, timeout_s=0.5), message())
        took = time.monotonic() - started
    assert (error.permanent, error.code) == (False, "timeout")
    assert took < 5.0  # its 0.5 s deadline, on a busy machine; not the 20 s default nor the lease


def test_it_takes_its_timeout_from_the_settings(email_settings):
    email_settings.SAMPARK_EMAIL_TIMEOUT_SECONDS = 7
    built = EmailTransport.from_settings(email_settings)
    assert built is not None and built.timeout_s == 7.0
    email_settings.SAMPARK_EMAIL_TIMEOUT_SECONDS = 0
    with pytest.raises(ImproperlyConfigured):
        EmailTransport.from_settings(email_settings)
