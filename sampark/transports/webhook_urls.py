"""The URL conf of :class:`sampark.transports.wsgi.WebhookHandler`: the site's ``/webhooks/`` paths, flat.

One level instead of the site's three (``webhooks/`` → provider → view): resolving nested includes was
a measurable part of a status webhook. ``tests/test_webhook_fast_path.py`` checks that every path here
reaches the same view as through the site's URL conf.
"""

from django.urls import path

from .sms.webhook import sms
from .telegram.webhook import telegram
from .whatsapp.webhook import whatsapp

urlpatterns = [
    path("webhooks/whatsapp/", whatsapp),
    path("webhooks/telegram/", telegram),
    path("webhooks/sms/", sms),
]
