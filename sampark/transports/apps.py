from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TransportsConfig(AppConfig):
    name = "sampark.transports"
    label = "transports"
    verbose_name = _("Transports")

    def ready(self) -> None:
        # Build every configured transport now: a half-configured provider stops the process at start,
        # not at the first send.
        from . import registry

        registry.configured()
