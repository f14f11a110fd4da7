"""Every import kind, by the name used on the command line (`sampark import <kind> PATH…`)."""

from __future__ import annotations

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
