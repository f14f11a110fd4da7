"""GeoJSON boundaries per unit (district, AC, block), for maps.

A FeatureCollection of a few megabytes is parsed whole (GeoJSON is one document); only geometry is
kept. Features are matched to units by a property named with ``--key``: a number is taken as the
Census-2011 or LGD code (district), the AC number (ac); a text as a name. Blocks carry no codes in
the public files, so they are matched by name inside the district named by ``--parent-key``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.db import models

from sampark.core.text import clean
from sampark.territory.models import AssemblyConstituency, Block, District, Geometry

from .base import BadFile, Importer, Issue
from .common import best_name_match, parse_code, resolve_state

_GEOMETRY_TYPES = {"Polygon", "MultiPolygon", "GeometryCollection"}
DEFAULT_PARENT_KEY = "censuscode"  # the Census-2011 district code in the public block files


class Boundaries(Importer):
    kind = "boundaries"
    help = "GeoJSON boundaries: --level district|block|ac --key PROPERTY"

    @classmethod
    def add_arguments(cls, parser: Any) -> None:
        parser.add_argument("--level", required=True, choices=["district", "block", "ac"])
        parser.add_argument("--key", required=True, help="the feature property that identifies the unit")
        parser.add_argument(
            "--parent-key",
            default=DEFAULT_PARENT_KEY,
            help="(blocks) the property naming the district: Census-2011 code, LGD code or name",
        )
        parser.add_argument("--state", help="the state (LGD code, ECI code or name); default: the only one")

    def run(self, paths: Iterable[Path]) -> None:
        state = resolve_state(self.options.get("state"))
        level, key = self.options["level"], self.options["key"]
        districts = list(District.objects.filter(state=state))
        acs = {a.number: a for a in AssemblyConstituency.objects.filter(state=state)}
        blocks = list(Block.objects.filter(district__state=state))
        counts = self.report.count(f"{level} boundaries")
        seen: dict[int, int] = {}
        for path in paths:
            features = self._features(path)
            advance = self.progress(path.name, len(features))
            for index, feature in enumerate(features, start=1):
                advance(1)
                self.report.rows_read += 1
                where = f"feature {index}"
                props = feature.get("properties") or {}
                geometry = feature.get("geometry") or {}
                if geometry.get("type") not in _GEOMETRY_TYPES:
                    self.report.warning(
                        path.name, index, "geometry", f"{where}: no polygon geometry; skipped"
                    )
                    continue
                if key not in props:
                    self.report.error(
                        path.name,
                        index,
                        key,
                        f"{where} has no property {key!r} (it has {', '.join(sorted(props)) or 'none'})",
                    )
                    continue
                value = clean(str(props[key]))
                unit: models.Model | None
                if level == "district":
                    unit = self._district(value, districts)
                elif level == "ac":
                    number = parse_code(value)
                    unit = acs.get(number) if number else None
                else:
                    parent_key = self.options.get("parent_key") or DEFAULT_PARENT_KEY
                    parent = self._district(clean(str(props.get(parent_key, ""))), districts)
                    unit = (
                        None
                        if parent is None
                        else best_name_match(
                            value, [(b.name_en, b) for b in blocks if b.district_id == parent.pk]
                        )
                    )
                if unit is None:
                    self.report.warning(
                        path.name, index, key, f"{where}: no {level} matches {value!r}; skipped"
                    )
                    continue
                if unit.pk in seen:
                    self.report.warning(
                        path.name,
                        index,
                        key,
                        f"{where} ({value!r}) matches {unit} again "
                        f"(first: feature {seen[unit.pk]}); kept the first",
                    )
                    continue
                seen[unit.pk] = index
                self._store(unit, geometry, path.name, counts)

    def _features(self, path: Path) -> list[dict[str, Any]]:
        try:
            with path.open("rb") as fh:
                data = json.load(fh)
        except FileNotFoundError:
            raise BadFile(Issue(str(path), None, "", "file not found")) from None
        except IsADirectoryError:
            raise BadFile(Issue(str(path), None, "", "is a directory, not a file")) from None
        except json.JSONDecodeError as exc:
            if not exc.doc.strip():
                raise BadFile(Issue(path.name, None, "", "the file is empty")) from exc
            raise BadFile(Issue(path.name, exc.lineno, "", f"not GeoJSON: {exc}")) from exc
        except UnicodeDecodeError as exc:
            line = exc.object[: exc.start].count(b"\n") + 1
            raise BadFile(
                Issue(
                    path.name,
                    line,
                    "",
                    f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x}); save the file as UTF-8",
                )
            ) from exc
        if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
            raise BadFile(
                Issue(
                    path.name,
                    None,
                    "type",
                    "expected a GeoJSON FeatureCollection (TopoJSON must be converted first)",
                )
            )
        return list(data.get("features") or [])

    @staticmethod
    def _district(value: str, districts: list[District]) -> District | None:
        if value.isdigit():
            code = value.lstrip("0")
            found = [d for d in districts if d.census2011_code.lstrip("0") == code] or [
                d for d in districts if str(d.lgd_code) == code
            ]
            return found[0] if len(found) == 1 else None
        return best_name_match(value, [(d.name_en, d) for d in districts]) if value else None

    @staticmethod
    def _store(unit: Any, geometry: dict[str, Any], source: str, counts: Any) -> None:
        shape: dict[str, Any] = {"type": geometry["type"]}
        shape.update({k: geometry[k] for k in ("coordinates", "geometries") if k in geometry})
        if unit.geometry_id:
            current = Geometry.objects.get(pk=unit.geometry_id)
            if current.geojson == shape and current.source == source:
                counts.unchanged += 1
                return
            current.geojson, current.source = shape, source
            current.save()
            counts.updated += 1
            return
        unit.geometry = Geometry.objects.create(geojson=shape, source=source)
        unit.save(update_fields=["geometry", "updated_at"])
        counts.created += 1
