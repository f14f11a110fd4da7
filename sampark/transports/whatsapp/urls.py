"""/webhooks/whatsapp/ (``webhooks:whatsapp``): Meta's handshake and event callbacks."""

from django.urls import path

from . import webhook

urlpatterns = [
    path("", webhook.whatsapp, name="whatsapp"),
]
