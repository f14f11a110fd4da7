"""Settings, all from the environment.

Nothing set gives the *embedded* mode: SQLite (WAL) + SqliteHuey + file cache, all under SAMPARK_HOME.
DATABASE_URL switches the database to PostgreSQL; REDIS_URL switches the queue to PriorityRedisHuey
and the cache to Redis. Secrets may also be given as ``<NAME>_FILE`` pointing at a file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
PACKAGE_DIR = BASE_DIR / "sampark"

env = environ.Env()


def _secret(name: str, default: str | None = None) -> str | None:
    """A secret from ``NAME`` or from the file named by ``NAME_FILE``."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return os.environ.get(name, default)


SAMPARK_HOME = Path(env.str("SAMPARK_HOME", default="var")).resolve()
SAMPARK_HOME.mkdir(parents=True, exist_ok=True)

# Where the real public data lives (used by tests and benchmarks, never shipped).
SAMPARK_DATA_DIR = Path(env.str("SAMPARK_DATA_DIR", default=str(BASE_DIR.parent / "shared" / "data")))


def _secret_key() -> str:
    key = _secret("SAMPARK_SECRET_KEY")
    if key:
        return key
    # Embedded installs should not need a configuration step: keep one generated key per SAMPARK_HOME,
    # readable only by its owner, so sessions survive restarts.
    if os.environ.get("DATABASE_URL"):
        # Several machines each generating their own key would break every session behind a balancer.
        raise ImproperlyConfigured(
            "distributed mode (DATABASE_URL) needs SAMPARK_SECRET_KEY or SAMPARK_SECRET_KEY_FILE"
        )
    path = SAMPARK_HOME / "secret_key"
    try:  # created 0600 from the first byte, never world-readable
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_urlsafe(50))
    return path.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()
DEBUG = env.bool("SAMPARK_DEBUG", default=False)
ALLOWED_HOSTS = env.list("SAMPARK_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("SAMPARK_CSRF_TRUSTED_ORIGINS", default=[])
# Behind TLS (a reverse proxy that sets X-Forwarded-Proto), set SAMPARK_HTTPS=true.
if env.bool("SAMPARK_HTTPS", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SAMPARK_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SAMPARK_HSTS_SECONDS", default=3600)
    # Only for a domain whose every subdomain serves HTTPS; preload also needs a year or more of HSTS
    # and the domain's entry on the browsers' preload list (hstspreload.org).
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SAMPARK_HSTS_SUBDOMAINS", default=False)
    SECURE_HSTS_PRELOAD = env.bool("SAMPARK_HSTS_PRELOAD", default=False)
    if SECURE_HSTS_PRELOAD and (SECURE_HSTS_SECONDS < 31536000 or not SECURE_HSTS_INCLUDE_SUBDOMAINS):
        raise ImproperlyConfigured(
            "SAMPARK_HSTS_PRELOAD needs SAMPARK_HSTS_SECONDS >= 31536000 and SAMPARK_HSTS_SUBDOMAINS=true"
        )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "huey.contrib.djhuey",
    "phonenumber_field",
    "ninja",
    "sampark.core",
    "sampark.territory",
    "sampark.people",
    "sampark.transports",
    "sampark.messaging",
    "sampark.content",
    "sampark.streams",
    "sampark.feed",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# --- database --------------------------------------------------------------------------------------
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": env.db("DATABASE_URL")}
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"].endswith("postgresql"):
        # No JIT: our queries are short and indexed, but a LIMIT over a large partial index is costed
        # as a full scan, which crossed jit_above_cost and spent ~300 ms compiling a 0.5 ms claim.
        DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
    SAMPARK_MODE = "distributed"
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SAMPARK_HOME / "sampark.sqlite3",
            "OPTIONS": {
                # WAL lets the web process read while the worker writes; IMMEDIATE takes the write lock
                # at BEGIN so two writers wait on the busy timeout instead of failing mid-transaction.
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA foreign_keys=ON; PRAGMA cache_size=-64000; PRAGMA temp_store=MEMORY;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
            # Kept open between requests: opening a connection and running the pragmas above on every
            # request was most of a status webhook's cost (bench/webhooks.py).
            "CONN_MAX_AGE": 300,
        }
    }
    SAMPARK_MODE = "embedded"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- task queue and cache ---------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
_huey_immediate = env.bool("SAMPARK_HUEY_IMMEDIATE", default=False)  # always explicit (STACK.md)
if REDIS_URL:
    from huey import PriorityRedisHuey

    HUEY = PriorityRedisHuey("sampark", url=REDIS_URL, immediate=_huey_immediate)
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    from huey import SqliteHuey

    HUEY = SqliteHuey("sampark", filename=str(SAMPARK_HOME / "huey.sqlite3"), immediate=_huey_immediate)
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(SAMPARK_HOME / "cache"),
        }
    }

if SAMPARK_MODE == "distributed" and not REDIS_URL:
    # A PostgreSQL deployment with a local SQLite queue would silently split work per machine.
    raise ImproperlyConfigured("DATABASE_URL is set but REDIS_URL is not: distributed mode needs both.")

# --- auth ----------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "territory:home"
LOGOUT_REDIRECT_URL = "login"

# --- i18n ----------------------------------------------------------------------------------------
LANGUAGE_CODE = env.str("SAMPARK_LANGUAGE", default="hi")  # Hindi first
LANGUAGES = [("hi", _("Hindi")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Kolkata"
USE_I18N = True
USE_TZ = True

# --- static / media ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = SAMPARK_HOME / "static"
# Front-end packages come from npm (package-lock.json) and are copied here by `make assets`.
STATICFILES_DIRS = [BASE_DIR / "build" / "static"]
(BASE_DIR / "build" / "static").mkdir(parents=True, exist_ok=True)
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_URL = "media/"
MEDIA_ROOT = SAMPARK_HOME / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- imports -------------------------------------------------------------------------------------
# Polling-station coordinates outside this box (lat_min, lat_max, lon_min, lon_max) are not trusted.
# The default is Bihar's; set it for another state, e.g. SAMPARK_COORDINATE_BBOX=23.8,30.5,77.0,84.7.
SAMPARK_COORDINATE_BBOX = tuple(
    float(v) for v in env.list("SAMPARK_COORDINATE_BBOX", default=["24.2", "27.6", "83.3", "88.3"])
)
if len(SAMPARK_COORDINATE_BBOX) != 4:
    raise ImproperlyConfigured("SAMPARK_COORDINATE_BBOX needs four numbers: lat_min,lat_max,lon_min,lon_max")

# --- bad input (issue 10: phone regions, import line caps) ----------------------------------------
# Mobile numbers are accepted only from these regions (ISO 3166 codes, as libphonenumber names them);
# the first is the region of a number typed without a country code.
import phonenumbers  # noqa: E402  (kept inside this block: the shared header stays untouched)

SAMPARK_PHONE_REGIONS = [
    r.strip().upper() for r in env.list("SAMPARK_PHONE_REGIONS", default=["IN"]) if r.strip()
]
if not SAMPARK_PHONE_REGIONS or not set(SAMPARK_PHONE_REGIONS) <= phonenumbers.SUPPORTED_REGIONS:
    raise ImproperlyConfigured(
        "SAMPARK_PHONE_REGIONS needs region codes libphonenumber knows, e.g. IN or IN,NP"
    )
# No line of an imported CSV file, and no record (a row, even across quoted line breaks), may be longer:
# one 200 MB line must be an error naming its line, not 1.3 GB of memory.
SAMPARK_IMPORT_MAX_LINE_BYTES = env.int("SAMPARK_IMPORT_MAX_LINE_BYTES", default=64 * 1024)
if SAMPARK_IMPORT_MAX_LINE_BYTES < 1024:
    raise ImproperlyConfigured("SAMPARK_IMPORT_MAX_LINE_BYTES must be at least 1024")

# --- people and coverage --------------------------------------------------------------------------
PHONENUMBER_DEFAULT_REGION = "IN"
# The seed's targets: counted volunteers per booth, and panchayats with volunteers per block.
SAMPARK_TARGET_VOLUNTEERS_PER_BOOTH = env.int("SAMPARK_TARGET_VOLUNTEERS_PER_BOOTH", default=10)
SAMPARK_TARGET_PANCHAYATS_PER_BLOCK = env.int("SAMPARK_TARGET_PANCHAYATS_PER_BLOCK", default=5)
if SAMPARK_TARGET_VOLUNTEERS_PER_BOOTH < 1 or SAMPARK_TARGET_PANCHAYATS_PER_BLOCK < 1:
    raise ImproperlyConfigured("coverage targets must be at least 1")
# The privacy notice people consent to; recorded on every consent (change it when the notice changes).
SAMPARK_CONSENT_NOTICE_VERSION = env.str("SAMPARK_CONSENT_NOTICE_VERSION", default="2026-11")

# --- messaging and transports ----------------------------------------------------------------------
# Channels without a configured provider are carried by the local outbox (phone simulator page) unless
# this is off; then they are simply off. Production installs with real providers set it to false.
SAMPARK_OUTBOX = env.bool("SAMPARK_OUTBOX", default=True)
# Election Commission: no campaign messages between 22:00 and 06:00 (local time); on by default.
SAMPARK_NIGHT_SILENCE = env.bool("SAMPARK_NIGHT_SILENCE", default=True)
SAMPARK_NIGHT_HOURS = tuple(env.list("SAMPARK_NIGHT_HOURS", cast=int, default=[22, 6]))
# TRAI: promotional SMS only inside this window (hours, local time).
SAMPARK_SMS_PROMO_HOURS = tuple(env.list("SAMPARK_SMS_PROMO_HOURS", cast=int, default=[9, 21]))
# Inbound keywords (any channel, compared after NFC and case folding).
SAMPARK_STOP_WORDS = env.list("SAMPARK_STOP_WORDS", default=["STOP", "UNSUBSCRIBE", "रोकें", "बंद"])
SAMPARK_START_WORDS = env.list("SAMPARK_START_WORDS", default=["START", "शुरू"])
SAMPARK_HELP_WORDS = env.list("SAMPARK_HELP_WORDS", default=["HELP", "मदद"])
# Dispatch: rows claimed per batch, sends in flight per worker, lease length, attempts before giving up.
SAMPARK_DISPATCH_BATCH = env.int("SAMPARK_DISPATCH_BATCH", default=500)
SAMPARK_DISPATCH_CONCURRENCY = env.int("SAMPARK_DISPATCH_CONCURRENCY", default=64)
# ... grown by Little's law (rate × latency) to keep the sender's rate against a slow provider, up to:
SAMPARK_DISPATCH_MAX_IN_FLIGHT = env.int("SAMPARK_DISPATCH_MAX_IN_FLIGHT", default=512)
SAMPARK_DISPATCH_LEASE_SECONDS = env.int("SAMPARK_DISPATCH_LEASE_SECONDS", default=120)
SAMPARK_DISPATCH_MAX_ATTEMPTS = env.int("SAMPARK_DISPATCH_MAX_ATTEMPTS", default=8)
# First retry after about this many seconds (with jitter), doubling per attempt, capped at an hour.
SAMPARK_DISPATCH_BACKOFF_SECONDS = env.float("SAMPARK_DISPATCH_BACKOFF_SECONDS", default=5.0)
# --- worker loops and leases (lead) -------------------------------------------------------------
# Once-per-deployment work (the stream ticker) runs under a named lease of this length, renewed every
# third of it; a holder that dies is replaced within about this long. The ticker hands over (releases
# and contends again) this often, so the takeover path is exercised every day, not only after a crash.
SAMPARK_LEASE_SECONDS = env.float("SAMPARK_LEASE_SECONDS", default=15.0)
SAMPARK_TICKER_HANDOVER_SECONDS = env.float("SAMPARK_TICKER_HANDOVER_SECONDS", default=600.0)
# A normal stop (one SIGINT/SIGTERM) lets the worker wind down for this long before it is killed.
SAMPARK_STOP_SECONDS = env.float("SAMPARK_STOP_SECONDS", default=8.0)
if SAMPARK_LEASE_SECONDS < 1 or SAMPARK_TICKER_HANDOVER_SECONDS < SAMPARK_LEASE_SECONDS:
    raise ImproperlyConfigured("SAMPARK_LEASE_SECONDS must be >= 1 and <= SAMPARK_TICKER_HANDOVER_SECONDS")

# --- webhooks: status queue and inbound dedupe (webhooks engineer) -----------------------------------
# Status webhooks queue what they receive; the worker's messaging.statuses loop applies the queue in
# batches of this many, and looks again this often once it is empty (the lag's floor).
SAMPARK_STATUS_DRAIN_BATCH = env.int("SAMPARK_STATUS_DRAIN_BATCH", default=1000)
SAMPARK_STATUS_DRAIN_SECONDS = env.float("SAMPARK_STATUS_DRAIN_SECONDS", default=0.5)
# An inbound message without a provider id is a replay when the same sender sent the same text within
# this many seconds (SMS gateways that give no id retry whole batches).
SAMPARK_INBOUND_DEDUPE_SECONDS = env.int("SAMPARK_INBOUND_DEDUPE_SECONDS", default=600)
if SAMPARK_STATUS_DRAIN_BATCH < 1 or SAMPARK_STATUS_DRAIN_SECONDS <= 0 or SAMPARK_INBOUND_DEDUPE_SECONDS < 0:
    raise ImproperlyConfigured(
        "SAMPARK_STATUS_DRAIN_BATCH must be >= 1, SAMPARK_STATUS_DRAIN_SECONDS > 0, "
        "SAMPARK_INBOUND_DEDUPE_SECONDS >= 0"
    )

# Rate-limit buckets (pyrate-limiter), shared by every worker process: Redis when distributed,
# else an SQLite file of their own.
SAMPARK_RATE_LIMIT_DB = SAMPARK_HOME / "ratelimit.sqlite3"

# Telegram Bot API. The token and the webhook secret go together.
SAMPARK_TELEGRAM_BOT_TOKEN = _secret("SAMPARK_TELEGRAM_BOT_TOKEN", "")
SAMPARK_TELEGRAM_WEBHOOK_SECRET = _secret("SAMPARK_TELEGRAM_WEBHOOK_SECRET", "")
SAMPARK_TELEGRAM_API_BASE = env.str("SAMPARK_TELEGRAM_API_BASE", default="https://api.telegram.org")
SAMPARK_TELEGRAM_RATE = env.int("SAMPARK_TELEGRAM_RATE", default=30)  # messages/s overall

# WhatsApp Business Platform (Cloud API): off unless every setting and the eligibility attestation are
# given (CHANNELS.md: the policy may exclude political campaigns).
SAMPARK_WHATSAPP_TOKEN = _secret("SAMPARK_WHATSAPP_TOKEN", "")
SAMPARK_WHATSAPP_PHONE_NUMBER_ID = env.str("SAMPARK_WHATSAPP_PHONE_NUMBER_ID", default="")
SAMPARK_WHATSAPP_APP_SECRET = _secret("SAMPARK_WHATSAPP_APP_SECRET", "")
SAMPARK_WHATSAPP_VERIFY_TOKEN = _secret("SAMPARK_WHATSAPP_VERIFY_TOKEN", "")
SAMPARK_WHATSAPP_API_BASE = env.str("SAMPARK_WHATSAPP_API_BASE", default="https://graph.facebook.com/v23.0")
SAMPARK_WHATSAPP_RATE = env.int("SAMPARK_WHATSAPP_RATE", default=80)  # per number; up to 1,000
SAMPARK_WHATSAPP_ELIGIBILITY_ATTESTED = env.str("SAMPARK_WHATSAPP_ELIGIBILITY_ATTESTED", default="")

# SMS through a generic Indian HTTP gateway (TRAI DLT: sender header and entity id registered).
SAMPARK_SMS_GATEWAY_URL = env.str("SAMPARK_SMS_GATEWAY_URL", default="")
SAMPARK_SMS_API_KEY = _secret("SAMPARK_SMS_API_KEY", "")
SAMPARK_SMS_SENDER_ID = env.str("SAMPARK_SMS_SENDER_ID", default="")
SAMPARK_SMS_DLT_ENTITY_ID = env.str("SAMPARK_SMS_DLT_ENTITY_ID", default="")
SAMPARK_SMS_WEBHOOK_SECRET = _secret("SAMPARK_SMS_WEBHOOK_SECRET", "")
SAMPARK_SMS_RATE = env.int("SAMPARK_SMS_RATE", default=100)

# Email through Django's backend (EMAIL_URL, e.g. smtp+tls://user:pass@host:587); on when a sender is set.
SAMPARK_EMAIL_FROM = env.str("SAMPARK_EMAIL_FROM", default="")
SAMPARK_EMAIL_RATE = env.int("SAMPARK_EMAIL_RATE", default=20)
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))

# --- dispatch: stop, recording, email deadline (dispatch) ------------------------------------------
# On a stop request a dispatch run claims nothing more and lets sends in flight finish for this long;
# what is still in flight then is cancelled and re-queued (marked as a possible duplicate).
SAMPARK_DISPATCH_STOP_GRACE_SECONDS = env.float("SAMPARK_DISPATCH_STOP_GRACE_SECONDS", default=4.0)
# Outcomes are committed in groups at least this often (a kill re-sends at most what was unrecorded).
SAMPARK_DISPATCH_RECORD_SECONDS = env.float("SAMPARK_DISPATCH_RECORD_SECONDS", default=0.1)
# One email send (SMTP handshake included) gives up after this long.
SAMPARK_EMAIL_TIMEOUT_SECONDS = env.float("SAMPARK_EMAIL_TIMEOUT_SECONDS", default=20.0)

# --- logging -------------------------------------------------------------------------------------
# Every handler redacts feed tokens (``/f/<token>`` → ``/f/[token]``): Django's request logger writes the
# path of every 4xx. The development server's and granian's access loggers (when --access-log is on)
# are routed through the same handler, so they are redacted too.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_feed_tokens": {"()": "sampark.core.logfilters.RedactFeedTokens"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_feed_tokens"]}
    },
    "root": {"handlers": ["console"], "level": env.str("SAMPARK_LOG_LEVEL", default="INFO")},
    "loggers": {
        # The Huey consumer attaches its own handler to "huey"; not propagating avoids every line twice.
        "huey": {"level": "INFO", "propagate": False},
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "granian.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # django-axes writes a line for every successful login; lock-outs come at WARNING.
        "axes": {"level": "WARNING"},
    },
}

# --- web security: referrer, CSP, login throttling, request rate limits (websec) -----------------
import datetime  # noqa: E402  (kept inside this block: the shared header stays untouched)
import re  # noqa: E402

from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE  # noqa: E402

# Pages tell other sites nothing about where a visitor came from, while our own forms keep a real
# Origin (``no-referrer`` makes a browser send ``Origin: null`` on POST, which the CSRF check refuses).
# The volunteer feed (token in the URL, CSRF-exempt POSTs, no cookie) keeps ``no-referrer`` itself.
SECURE_REFERRER_POLICY = "same-origin"
INSTALLED_APPS += ["axes"]
# Rate limits first (before sessions and the database), Axes last (it turns its refusal into our page).
MIDDLEWARE.insert(
    MIDDLEWARE.index("whitenoise.middleware.WhiteNoiseMiddleware") + 1,
    "sampark.core.middleware.RateLimitMiddleware",
)
MIDDLEWARE += ["csp.middleware.CSPMiddleware", "axes.middleware.AxesMiddleware"]
TEMPLATES[0]["OPTIONS"]["context_processors"].append("csp.context_processors.nonce")  # type: ignore[index]
AUTHENTICATION_BACKENDS = [
    "sampark.core.throttle.LoginThrottleBackend",  # django-axes: refuses a locked username or address
    "django.contrib.auth.backends.ModelBackend",
]
# Behind reverse proxies that append the client to X-Forwarded-For, how many of them to trust.
SAMPARK_TRUSTED_PROXIES = env.int("SAMPARK_TRUSTED_PROXIES", default=0)
AXES_CLIENT_IP_CALLABLE = "sampark.core.throttle.client_ip"
AXES_LOCKOUT_CALLABLE = "sampark.core.throttle.locked_out"
# Five failures lock that username from that address for 15 minutes (the pair, as axes recommends): an
# address alone would let one person behind a carrier's or an office's shared address lock out everyone
# there, the superuser included; a username alone would let anyone lock out any coordinator by name.
AXES_FAILURE_LIMIT = env.int("SAMPARK_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("SAMPARK_LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
# Axes' own log lines name the username typed, which may be a phone number or a mistyped password.
AXES_VERBOSE = False
if AXES_FAILURE_LIMIT < 1 or AXES_COOLOFF_TIME.total_seconds() < 60:
    raise ImproperlyConfigured(
        "SAMPARK_LOGIN_FAILURE_LIMIT must be >= 1 and SAMPARK_LOGIN_LOCKOUT_MINUTES >= 1"
    )

# Requests per client address to the API, and per token to the volunteer feed (which polls every 10 s).
SAMPARK_API_RATE = env.str("SAMPARK_API_RATE", default="600/m")
SAMPARK_FEED_RATE = env.str("SAMPARK_FEED_RATE", default="120/m")
for _name in ("SAMPARK_API_RATE", "SAMPARK_FEED_RATE"):
    if not re.fullmatch(r"[1-9][0-9]*/[1-9]?[0-9]*[smhd]", vars()[_name]):
        raise ImproperlyConfigured(f"{_name} must look like 120/m (count per s, m, h or d; e.g. 10/5m)")
RATELIMIT_USE_CACHE = "ratelimit"
RATELIMIT_FAIL_OPEN = True  # a cache outage must not lock every volunteer out of their feed
CACHES["ratelimit"] = (
    {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "rl"}
    if REDIS_URL
    # Embedded: counters in each web process's memory, so each of granian's workers counts on its own
    # (a client may get up to workers x the rate). A file cache shared by the workers measured 58 ms per
    # check with 1,000 open feeds (every write lists the cache folder to cull it): too slow for a poll.
    else {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "sampark-ratelimit",
        # Counters are culled past this many (Django's default, 300, would drop live ones).
        "OPTIONS": {"MAX_ENTRIES": 100_000},  # type: ignore[dict-item]
    }
)

# Content-Security-Policy (django-csp): scripts only from our origin or with the page's nonce, nothing
# inline; styles the same for <style> elements (style attributes stay allowed: progress bars set their
# width). Images may come from any https site (a feed card shows its item's picture).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "style-src-elem": [SELF, NONCE],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:", "https:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
