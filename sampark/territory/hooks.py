"""Hooks through which apps further down the import chain follow territory changes.

Territory must not import them (imports point one way), so an app names a callable in its
``AppConfig``; territory calls every one inside the transaction that made the change.

- ``booth_links_changed``: booths were relinked to blocks/panchayats (the panchayat mapping import).
  Apps that copy booth ancestors onto their own rows (people's posts and coverage) re-copy them.
"""

from __future__ import annotations

from django.apps import apps
from django.utils.module_loading import import_string


def booth_links_changed() -> None:
    for config in apps.get_app_configs():
        dotted = getattr(config, "booth_links_changed", "")
        if dotted:
            import_string(dotted)()
