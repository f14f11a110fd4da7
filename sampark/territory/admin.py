"""Admin for the territory: search every unit by its official code or by its name in either script.

A state has ~1,00,000 booths, so no form ever renders a ``<select>`` of booths or panchayats: foreign keys
use autocomplete (backed by the search fields below) and geometries a raw id. Fields filled by the
importers from the official files (``source``, the published coordinates) are read-only.
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.db.models import QuerySet
from django.db.models.fields.json import KT
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from sampark.territory.models import (
    AssemblyConstituency,
    Block,
    Booth,
    District,
    Geometry,
    Panchayat,
    ParliamentaryConstituency,
    State,
)

# ``<field>__exact`` on a number makes the admin compare its text, so a code typed in the search box
# finds the unit exactly and a word in the same search box is simply not a match (never an error).
NAME_SEARCH = ("name_en", "name_hi")
TIMESTAMPS = ("created_at", "updated_at")


@admin.register(State)
class StateAdmin(admin.ModelAdmin):
    list_display = ("name_en", "name_hi", "lgd_code", "eci_code", "census2011_code", "is_union_territory")
    list_filter = ("is_union_territory",)
    search_fields = (*NAME_SEARCH, "lgd_code__exact", "=eci_code", "=census2001_code", "=census2011_code")
    readonly_fields = TIMESTAMPS


@admin.register(Geometry)
class GeometryAdmin(admin.ModelAdmin):
    """Geometries are written by the importers; the admin shows what they are, never the polygons."""

    list_display = ("id", "geometry_type", "source")
    search_fields = ("id__exact", "source")
    exclude = ("geojson",)
    readonly_fields = ("geometry_type", "geojson_size", "source")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Geometry]:
        # The list reads only the GeoJSON ``type`` key, so the polygons themselves stay in the database.
        return super().get_queryset(request).defer("geojson").annotate(geometry_kind=KT("geojson__type"))

    @admin.display(description=_("geometry type"))
    def geometry_type(self, obj: Geometry) -> str:
        return str(getattr(obj, "geometry_kind", None) or "–")

    @admin.display(description=_("size"))
    def geojson_size(self, obj: Geometry) -> str:
        return _("%(count)s characters of GeoJSON") % {"count": len(json.dumps(obj.geojson))}


@admin.register(District)
class DistrictAdmin(admin.ModelAdmin):
    list_display = ("name_en", "name_hi", "lgd_code", "state", "ceo_number", "census2011_code")
    list_filter = ("state",)
    list_select_related = ("state",)
    search_fields = (
        *NAME_SEARCH,
        "lgd_code__exact",
        "ceo_number__exact",
        "=census2001_code",
        "=census2011_code",
    )
    autocomplete_fields = ("state",)
    raw_id_fields = ("geometry",)
    readonly_fields = TIMESTAMPS


@admin.register(ParliamentaryConstituency)
class ParliamentaryConstituencyAdmin(admin.ModelAdmin):
    list_display = ("number", "name_en", "name_hi", "state", "reservation")
    list_display_links = ("number", "name_en")
    list_filter = ("state", "reservation")
    list_select_related = ("state",)
    search_fields = ("number__exact", *NAME_SEARCH)
    autocomplete_fields = ("state",)
    readonly_fields = TIMESTAMPS


@admin.register(AssemblyConstituency)
class AssemblyConstituencyAdmin(admin.ModelAdmin):
    list_display = ("number", "name_en", "name_hi", "district", "pc", "reservation")
    list_display_links = ("number", "name_en")
    list_filter = ("state", "reservation", "district")
    list_select_related = ("district", "pc")
    search_fields = ("number__exact", *NAME_SEARCH)
    autocomplete_fields = ("state", "district", "pc")
    raw_id_fields = ("geometry",)
    readonly_fields = TIMESTAMPS


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ("name_en", "name_hi", "lgd_code", "district")
    list_filter = ("district__state", "district")
    list_select_related = ("district",)
    search_fields = (*NAME_SEARCH, "lgd_code__exact")
    autocomplete_fields = ("district",)
    raw_id_fields = ("geometry",)
    readonly_fields = TIMESTAMPS


@admin.register(Panchayat)
class PanchayatAdmin(admin.ModelAdmin):
    list_display = ("name_en", "name_hi", "lgd_code", "kind", "block", "district")
    list_filter = ("kind", "district")
    list_select_related = ("block", "district")
    search_fields = (*NAME_SEARCH, "lgd_code__exact")
    autocomplete_fields = ("district", "block")
    readonly_fields = TIMESTAMPS


@admin.register(Booth)
class BoothAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "name_hi", "kind", "ac", "block", "panchayat", "coordinate_quality")
    list_filter = ("kind", "coordinate_quality", "state", "district")
    list_select_related = ("ac", "block", "panchayat")
    # Booth code exactly (``12-34A``), the polling station number, or words of the name in either script.
    search_fields = ("=code", "number__exact", "name", "name_hi")
    search_help_text = _("Booth code (e.g. 12-34A), polling station number, or name in Hindi or English")
    autocomplete_fields = ("state", "district", "ac", "block", "panchayat")
    readonly_fields = ("source", "coordinate_raw", "suffix_assigned", *TIMESTAMPS)
    # A filtered list of a 1,00,000-row table should not pay for a second, unfiltered count.
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("code", "number", "suffix", "suffix_assigned", "kind", "name", "name_hi")}),
        (_("Territory"), {"fields": ("state", "district", "ac", "block", "panchayat")}),
        (
            _("Location"),
            {"fields": ("latitude", "longitude", "coordinate_quality", "coordinate_raw")},
        ),
        (
            _("Facilities and electors"),
            {"fields": ("electricity", "toilet", "ramp", "elector_from", "elector_to")},
        ),
        (_("Source"), {"fields": ("source", *TIMESTAMPS)}),
    )
