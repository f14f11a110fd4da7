from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TerritoryConfig(AppConfig):
    name = "sampark.territory"
    label = "territory"
    verbose_name = _("Territory")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from .models import Booth

        # Cached booth counts go stale when a booth is saved or deleted one by one (the admin); bulk
        # writes (imports, the demo) bypass signals and call ``selectors.forget_counts`` themselves.
        post_save.connect(_booths_changed, sender=Booth, dispatch_uid="territory-booth-counts-save")
        post_delete.connect(_booths_changed, sender=Booth, dispatch_uid="territory-booth-counts-delete")


def _booths_changed(**_kwargs: object) -> None:
    from .selectors import forget_counts

    forget_counts()
