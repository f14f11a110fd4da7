"""`sampark import boundaries FILE --level district|block|ac --key PROPERTY`: GeoJSON per unit, for maps."""

from __future__ import annotations

import json

import pytest

from sampark.territory.importers.base import WARNING
from sampark.territory.models import AssemblyConstituency, Block, District, Geometry

from .factories import PIPELINE, TERRITORY, changed_counts, imported, run, small_bihar, table_digest

pytestmark = pytest.mark.django_db
BOUNDARIES = PIPELINE[-3:]  # district, ac, block
# Census-2011 block names the LGD list spells or cuts differently (Arrah/ARA, Colgong/Kahalgaon,
# Sidhaw = BAGAHA-II, Patna Rural/PATNA SADAR, …): left without a map and reported, never guessed.
UNMATCHED_BLOCKS = [
    "Sidhaw",
    "Pach Deuri",
    "Arrah",
    "Lakshmipur",
    "Phulidumar",
    "Colgong",
    "Madhubani",
    "Tariani Chowk",
    "Narkatia",
    "Karpi",
    "Bihar",
    "Mokameh",
    "Baruraj (Motipur)",
    "Dholi (Moraul)",
    "Munger",
    "Kishanganj",
    "Fatwah",
    "Patna Rural",
    "Dinapur-Cum-Khagaul",
]


@pytest.fixture(scope="class")
def mapped(data_dir, django_db_setup, django_db_blocker):
    with imported(django_db_blocker, data_dir, (*TERRITORY, *BOUNDARIES)) as reports:
        yield reports


def feature(properties, geometry_type="Polygon"):
    ring = [[84.0, 26.0], [84.1, 26.0], [84.1, 26.1], [84.0, 26.0]]
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": geometry_type, "coordinates": [ring]},
    }


def geojson(path, features):
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


@pytest.mark.realdata
class TestTheRealFiles:
    def test_it_maps_all_38_districts_by_census_code(self, mapped, data_dir):
        assert changed_counts(mapped["district boundaries"]) == {"district boundaries": (38, 0)}
        assert mapped["district boundaries"].issues == []
        assert not District.objects.filter(geometry__isnull=True).exists()
        features = json.loads((data_dir / "geo/ht_bihar_districts_2011.geojson").read_text(encoding="utf-8"))
        arwal = next(f for f in features["features"] if f["properties"]["censuscode"] == 240)
        stored = District.objects.get(lgd_code=611).geometry  # Arwal: Census 240, CEO 33
        assert stored.geojson == {
            "type": arwal["geometry"]["type"],
            "coordinates": arwal["geometry"]["coordinates"],
        }
        assert stored.source == "ht_bihar_districts_2011.geojson"

    def test_it_maps_all_243_acs_by_number_including_geometry_collections(self, mapped):
        assert changed_counts(mapped["ac boundaries"]) == {"ac boundaries": (243, 0)}
        assert not AssemblyConstituency.objects.filter(geometry__isnull=True).exists()
        collections_ = AssemblyConstituency.objects.filter(geometry__geojson__type="GeometryCollection")
        assert sorted(collections_.values_list("number", flat=True)) == [23, 125, 171, 228]
        assert "geometries" in AssemblyConstituency.objects.get(number=23).geometry.geojson

    def test_it_maps_most_blocks_by_name_within_their_district_and_reports_the_rest(self, mapped):
        report = mapped["block boundaries"]
        assert changed_counts(report) == {"block boundaries": (515, 0)}
        assert Block.objects.filter(geometry__isnull=False).count() == 515  # of 534
        assert report.errors == []
        assert [i.reason.split("'")[1] for i in report.warnings] == UNMATCHED_BLOCKS
        assert all(i.field == "block" and i.severity == WARNING and i.line for i in report.warnings)
        # Loose keys drop vowels; the letters decide between BAISI and BAISA, LAUKAHI and LAUKAHA,
        # and "Purbi" is LGD's "East".
        mapped_blocks = set(Block.objects.filter(geometry__isnull=False).values_list("name_en", flat=True))
        assert {"Baisi", "Baisa", "Laukahi", "Laukaha (Khutauna)", "Kusheswar Asthan East"} <= mapped_blocks
        assert Geometry.objects.count() == 38 + 243 + 515

    def test_it_changes_nothing_on_a_second_run(self, mapped, data_dir):
        before = table_digest()
        for s in BOUNDARIES:
            report = run(s.kind, s.files(data_dir), **s.options)
            assert all(n == (0, 0) for n in changed_counts(report).values()), s.label
        assert table_digest() == before


# --- small files ----------------------------------------------------------------------------------


def test_it_updates_a_changed_geometry_in_place(tmp_path):
    small_bihar()
    path = geojson(tmp_path / "acs.geojson", [feature({"AC_NO": "1"})])
    run("boundaries", [path], level="ac", key="AC_NO")
    first = AssemblyConstituency.objects.get(number=1).geometry_id
    changed = feature({"AC_NO": "1"}, "MultiPolygon")
    report = run("boundaries", [geojson(path, [changed])], level="ac", key="AC_NO")
    assert changed_counts(report) == {"ac boundaries": (0, 1)}
    ac = AssemblyConstituency.objects.get(number=1)
    assert (ac.geometry_id, ac.geometry.geojson["type"], Geometry.objects.count()) == (
        first,
        "MultiPolygon",
        1,
    )


def test_it_rejects_a_feature_without_the_key_property(tmp_path):
    small_bihar()
    path = geojson(tmp_path / "acs.geojson", [feature({"AC_NO": "1"}), feature({"AC_NAME": "Ramnagar"})])
    report = run("boundaries", [path], level="ac", key="AC_NO")
    assert [(i.file, i.line, i.field) for i in report.errors] == [("acs.geojson", 2, "AC_NO")]
    assert report.errors[0].reason == "feature 2 has no property 'AC_NO' (it has AC_NAME)"
    assert not Geometry.objects.exists()


def test_it_skips_features_without_a_polygon_or_a_unit_with_warnings(tmp_path):
    small_bihar()
    path = geojson(
        tmp_path / "acs.geojson",
        [
            {
                "type": "Feature",
                "properties": {"AC_NO": "1"},
                "geometry": {"type": "Point", "coordinates": [84, 26]},
            },
            feature({"AC_NO": "99"}),
            feature({"AC_NO": "2"}),
            feature({"AC_NO": "2"}),
        ],
    )
    report = run("boundaries", [path], level="ac", key="AC_NO")
    assert report.errors == []
    assert [(i.line, i.field) for i in report.warnings] == [(1, "geometry"), (2, "AC_NO"), (4, "AC_NO")]
    assert "no ac matches '99'" in report.warnings[1].reason
    assert "(first: feature 3); kept the first" in report.warnings[2].reason
    assert list(
        AssemblyConstituency.objects.filter(geometry__isnull=False).values_list("number", flat=True)
    ) == [2]


@pytest.mark.parametrize(
    ("content", "line", "field", "reason"),
    [
        (b'{"type": "FeatureCollection", "features": [\n{"type": ', 2, "", "not GeoJSON"),
        (b'{"type": "Topology", "objects": {}}', None, "type", "expected a GeoJSON FeatureCollection"),
        (b" \n", None, "", "the file is empty"),
        (b'{"type": "FeatureCollection",\n "name": "D\xe9tails"}', 2, "", "not UTF-8 text (byte 0xe9)"),
    ],
    ids=["truncated", "topojson", "empty", "not-utf8"],
)
def test_it_rejects_a_file_that_is_not_geojson(tmp_path, content, line, field, reason):
    small_bihar()
    path = tmp_path / "districts.geojson"
    path.write_bytes(content)
    report = run("boundaries", [path], level="district", key="censuscode")
    assert [(i.file, i.line, i.field) for i in report.errors] == [("districts.geojson", line, field)]
    assert report.errors[0].reason.startswith(reason)
    assert not Geometry.objects.exists()


def test_it_names_a_missing_file(tmp_path):
    small_bihar()
    report = run("boundaries", [tmp_path / "nowhere.geojson"], level="district", key="censuscode")
    assert [(i.file, i.reason) for i in report.errors] == [
        (str(tmp_path / "nowhere.geojson"), "file not found")
    ]
