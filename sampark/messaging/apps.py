from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "sampark.messaging"
    label = "messaging"
    verbose_name = _("Messaging")

    def ready(self) -> None:
        # Webhooks (in sampark.transports) hand what they learn to this app.
        from sampark.transports import events

        from .receiver import WebhookReceiver

        events.set_receiver(WebhookReceiver())
