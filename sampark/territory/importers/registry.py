"""Every import kind, by the name used on the command line (`sampark import <kind> PATH…`).

Territory kinds are listed here; apps further down the import chain (people, …) name theirs in their
``AppConfig.importers`` and :func:`all_importers` collects them, so territory never imports them.
"""

from __future__ import annotations

from django.apps import apps
from django.utils.module_loading import import_string

from .base import Importer
from .booths import PollingStations
from .boundaries import Boundaries
from .crosswalk import DistrictCrosswalk
from .eci import EciConstituencies
from .lgd import LgdBlocks, LgdDistricts, LgdStates
from .panchayats import PanchayatMapping

IMPORTERS: dict[str, type[Importer]] = {
    cls.kind: cls
    for cls in (
        LgdStates,
        LgdDistricts,
        LgdBlocks,
        EciConstituencies,
        DistrictCrosswalk,
        PollingStations,
        PanchayatMapping,
        Boundaries,
    )
}


def all_importers() -> dict[str, type[Importer]]:
    """The territory kinds plus every installed app's ``importers``."""
    found = dict(IMPORTERS)
    for config in apps.get_app_configs():
        for dotted in getattr(config, "importers", ()):
            importer: type[Importer] = import_string(dotted)
            found[importer.kind] = importer
    return found
