from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from sampark.core import loops
from sampark.transports import events


class MessagingConfig(AppConfig):
    name = "sampark.messaging"
    label = "messaging"
    verbose_name = _("Messaging")

    def ready(self) -> None:
        # Imported once the app registry is ready: both modules import this app's models.
        from . import statuses
        from .receiver import WebhookReceiver

        # Webhooks (in sampark.transports) hand what they learn to this app.
        events.set_receiver(WebhookReceiver())
        # Status webhooks only queue what they receive; this loop of the worker applies it in batches.
        loops.register("messaging.statuses", statuses.drain_loop)
