from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContentConfig(AppConfig):
    name = "sampark.content"
    label = "content"
    verbose_name = _("Content")
    # `sampark import slogans FILE` (collected by the territory import registry).
    importers = ("sampark.content.importers.SloganImport",)
