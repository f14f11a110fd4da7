from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StreamsConfig(AppConfig):
    name = "sampark.streams"
    label = "streams"
    verbose_name = _("Streams")

    def ready(self) -> None:
        # The ticker is a loop of the worker process (sampark worker), never a Huey task.
        from sampark.core import loops

        from . import ticker

        loops.register("streams.ticker", ticker.serve)
