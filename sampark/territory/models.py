"""The territory of a state down to every polling booth.

State → District → AssemblyConstituency (→ ParliamentaryConstituency) and District → Block → Panchayat;
a Booth (polling station) belongs to an AC and, when known, to a block and panchayat. Every booth
carries all its ancestors as indexed foreign keys, so "every booth under unit X" is one condition
(``district_id = …``, ``ac_id = …``, ``block_id = …``) and never a join chain.

Official codes are kept as the sources give them (LGD, Census 2001/2011, ECI numbers, the CEO's own
district numbering); the CEO numbering differs from Census order for some districts, so links are made
through explicit codes (see ``importers/crosswalk.py``), never arithmetic.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from sampark.core.models import TimeStamped


class Named(TimeStamped):
    name_en = models.CharField(_("name (English)"), max_length=200)
    name_hi = models.CharField(_("name (Hindi)"), max_length=200, blank=True)

    class Meta:
        abstract = True

    @property
    def name(self) -> str:
        """The name in the active language, falling back to the other script."""
        if (get_language() or "hi").startswith("hi"):
            return self.name_hi or self.name_en
        return self.name_en or self.name_hi

    def __str__(self) -> str:
        return self.name


class Reservation(models.TextChoices):
    GENERAL = "", _("General")
    SC = "SC", _("Scheduled Caste")
    ST = "ST", _("Scheduled Tribe")
    # Sikkim's seats reserved for Bhutia-Lepcha and for the Sangha (monasteries).
    BL = "BL", _("Bhutia-Lepcha")
    SANGHA = "SANGHA", _("Sangha")


class State(Named):
    lgd_code = models.PositiveIntegerField(_("LGD code"), unique=True)
    eci_code = models.CharField(_("ECI code"), max_length=4, blank=True, help_text="e.g. S04")
    census2001_code = models.CharField(_("Census 2001 code"), max_length=8, blank=True)
    census2011_code = models.CharField(_("Census 2011 code"), max_length=8, blank=True)
    is_union_territory = models.BooleanField(_("union territory"), default=False)

    class Meta:
        ordering = ["name_en"]
        verbose_name = _("state")
        verbose_name_plural = _("states")


class Geometry(models.Model):
    """GeoJSON geometry of one unit, for maps; kept apart so lists never load polygons."""

    geojson = models.JSONField(_("GeoJSON geometry"))
    source = models.CharField(_("source"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("geometry")
        verbose_name_plural = _("geometries")

    def __str__(self) -> str:
        return f"{self.geojson.get('type', '?')} ({self.source})"


class District(Named):
    state = models.ForeignKey(State, on_delete=models.PROTECT, related_name="districts")
    lgd_code = models.PositiveIntegerField(_("LGD code"), unique=True)
    census2001_code = models.CharField(_("Census 2001 code"), max_length=8, blank=True)
    census2011_code = models.CharField(_("Census 2011 code"), max_length=8, blank=True, db_index=True)
    ceo_number = models.PositiveSmallIntegerField(
        _("CEO district number"), null=True, blank=True, help_text=_("The state election office's numbering")
    )
    geometry = models.OneToOneField(
        Geometry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name_en"]
        verbose_name = _("district")
        verbose_name_plural = _("districts")
        constraints = [
            models.UniqueConstraint(fields=["state", "ceo_number"], name="district_ceo_number_unique"),
        ]


class ParliamentaryConstituency(Named):
    state = models.ForeignKey(State, on_delete=models.PROTECT, related_name="pcs")
    number = models.PositiveSmallIntegerField(_("number"))
    reservation = models.CharField(_("reservation"), max_length=8, choices=Reservation.choices, blank=True)

    class Meta:
        ordering = ["state", "number"]
        verbose_name = _("parliamentary constituency")
        verbose_name_plural = _("parliamentary constituencies")
        constraints = [models.UniqueConstraint(fields=["state", "number"], name="pc_number_unique")]


class AssemblyConstituency(Named):
    state = models.ForeignKey(State, on_delete=models.PROTECT, related_name="acs")
    district = models.ForeignKey(
        District,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="acs",
        help_text=_("The district whose election office lists this AC's polling stations"),
    )
    pc = models.ForeignKey(
        ParliamentaryConstituency,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="acs",
        verbose_name=_("parliamentary constituency"),
    )
    number = models.PositiveSmallIntegerField(_("number"))
    reservation = models.CharField(_("reservation"), max_length=8, choices=Reservation.choices, blank=True)
    geometry = models.OneToOneField(
        Geometry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["state", "number"]
        verbose_name = _("assembly constituency")
        verbose_name_plural = _("assembly constituencies")
        constraints = [models.UniqueConstraint(fields=["state", "number"], name="ac_number_unique")]

    def __str__(self) -> str:
        return f"{self.number}-{self.name}"


class Block(Named):
    """A community development block (prakhand); LGD code when the source gives one."""

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="blocks")
    lgd_code = models.PositiveIntegerField(_("LGD code"), null=True, blank=True, unique=True)
    lgd_version = models.PositiveSmallIntegerField(_("LGD version"), null=True, blank=True)
    geometry = models.OneToOneField(
        Geometry, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name_en"]
        verbose_name = _("block")
        verbose_name_plural = _("blocks")


class Panchayat(Named):
    class Kind(models.TextChoices):
        GRAM_PANCHAYAT = "gp", _("Gram panchayat")
        URBAN = "ulb", _("Urban local body / ward")

    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="panchayats")
    block = models.ForeignKey(
        Block, null=True, blank=True, on_delete=models.PROTECT, related_name="panchayats"
    )
    kind = models.CharField(_("kind"), max_length=3, choices=Kind.choices, default=Kind.GRAM_PANCHAYAT)
    lgd_code = models.PositiveIntegerField(_("LGD code"), null=True, blank=True, unique=True)

    class Meta:
        ordering = ["name_en", "name_hi"]
        verbose_name = _("panchayat")
        verbose_name_plural = _("panchayats")
        constraints = [
            models.UniqueConstraint(
                fields=["block", "name_hi"],
                name="panchayat_name_in_block_unique",
                condition=~models.Q(name_hi=""),
            ),
        ]


class CoordinateQuality(models.TextChoices):
    OK = "ok", _("As published")
    DMS = "dms", _("Converted from degrees-minutes-seconds")
    REPAIRED = "repaired", _("Repaired decimal separator")
    SWAPPED = "swapped", _("Latitude and longitude were swapped")
    OUT_OF_AREA = "out_of_area", _("Outside the state: not stored")
    UNPARSEABLE = "unparseable", _("Unreadable: not stored")
    MISSING = "missing", _("Not published")
    DEMO = "demo", _("Synthetic (demo data)")


class Booth(TimeStamped):
    """A polling station. ``code`` is what people type: ``<AC>-<PS><suffix>``, unique in the state."""

    class Kind(models.TextChoices):
        MAIN = "M", _("Main")
        AUXILIARY = "A", _("Auxiliary")

    # state and ac need no index of their own: the unique (state, code) and the (ac, number) indexes
    # lead with them, and every index costs time on a 1-lakh-row import.
    state = models.ForeignKey(State, on_delete=models.PROTECT, related_name="booths", db_index=False)
    district = models.ForeignKey(District, on_delete=models.PROTECT, related_name="booths")
    ac = models.ForeignKey(
        AssemblyConstituency,
        on_delete=models.PROTECT,
        related_name="booths",
        verbose_name=_("assembly constituency"),
        db_index=False,
    )
    block = models.ForeignKey(Block, null=True, blank=True, on_delete=models.SET_NULL, related_name="booths")
    panchayat = models.ForeignKey(
        Panchayat, null=True, blank=True, on_delete=models.SET_NULL, related_name="booths"
    )
    number = models.PositiveSmallIntegerField(_("polling station number"))
    suffix = models.CharField(_("suffix"), max_length=4, blank=True)
    code = models.CharField(_("booth code"), max_length=16)
    suffix_assigned = models.BooleanField(
        _("suffix assigned by import"),
        default=False,
        help_text=_("The source repeats this number without a suffix; the import gave the next free letter"),
    )
    kind = models.CharField(_("main/auxiliary"), max_length=1, choices=Kind.choices, default=Kind.MAIN)
    name = models.CharField(_("name"), max_length=300)
    name_hi = models.CharField(_("name (Hindi)"), max_length=300, blank=True)
    latitude = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    coordinate_quality = models.CharField(
        _("coordinate quality"),
        max_length=12,
        choices=CoordinateQuality.choices,
        default=CoordinateQuality.MISSING,
    )
    coordinate_raw = models.CharField(_("coordinates as published"), max_length=80, blank=True)
    electricity = models.BooleanField(_("electricity"), null=True, blank=True)
    toilet = models.BooleanField(_("toilet"), null=True, blank=True)
    ramp = models.BooleanField(_("ramp"), null=True, blank=True)
    elector_from = models.PositiveIntegerField(_("elector serial from"), null=True, blank=True)
    elector_to = models.PositiveIntegerField(_("elector serial to"), null=True, blank=True)
    source = models.CharField(_("source (file:line)"), max_length=200, blank=True)

    class Meta:
        # By column, not ac__number: ordering through the AC join sorted the whole table on every list.
        ordering = ["ac_id", "number", "suffix"]
        verbose_name = _("booth")
        verbose_name_plural = _("booths")
        constraints = [models.UniqueConstraint(fields=["state", "code"], name="booth_code_unique")]
        indexes = [models.Index(fields=["ac", "number"], name="booth_ac_number")]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def display_name(self) -> str:
        """The name in the active language, falling back to the other script (as ``Named.name``)."""
        if (get_language() or "hi").startswith("hi"):
            return self.name_hi or self.name
        return self.name or self.name_hi

    @staticmethod
    def make_code(ac_number: int, number: int, suffix: str) -> str:
        return f"{ac_number}-{number}{suffix}"
