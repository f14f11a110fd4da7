"""People: consenting volunteers and coordinators, how to reach them, and the posts they hold.

A :class:`Person` is reachable on a channel only through a :class:`ContactPoint` whose latest
:class:`Consent` is live (given and not withdrawn). Consent history is never edited: giving adds a row,
withdrawing stamps ``withdrawn_at`` on the live row. ``ContactPoint.consent_live`` mirrors "has a live
consent row" so audiences of lakhs resolve with one indexed condition; only ``services`` write either.

A :class:`Post` places a person at a unit (state … booth) with dates. Its unit's ancestors are copied onto
the row (as every booth carries its own), so "posts under district X" is one indexed condition — the
same condition that scopes booths and people (see ``scope.py``).

:class:`BoothCoverage` is the maintained per-booth count of counted volunteers, rewritten set-based by
``services.recount_booths`` inside every transaction that changes posts or consent (counts come from
posts, not home booths).
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from phonenumber_field.modelfields import PhoneNumberField

from sampark.core.models import TimeStamped
from sampark.territory.models import AssemblyConstituency, Block, Booth, District, Panchayat, State

from .scope import ScopedQuerySet


class Language(models.TextChoices):
    HINDI = "hi", _("Hindi")
    ENGLISH = "en", _("English")


class Gender(models.TextChoices):
    UNSPECIFIED = "", _("Not given")
    FEMALE = "f", _("Female")
    MALE = "m", _("Male")
    OTHER = "x", _("Other")


class Source(models.TextChoices):
    """Where a person, or a consent, came from."""

    FORM = "form", _("Form")
    IMPORT = "import", _("Import")
    CHAT = "chat", _("Chat")
    REFERRAL = "referral", _("Referral")


class Tag(models.Model):
    """A free label on people ("student", "mahila morcha", "social media team") that audiences can
    choose. Names are stored cleaned (NFC, spaces) and unique regardless of case."""

    name = models.CharField(_("name"), max_length=60)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="tag_name_unique_any_case")]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self) -> str:
        return self.name


class PersonQuerySet(ScopedQuerySet["Person"]):
    scope_booth_prefix = "home_booth__"
    scope_person_path = "pk"


class Person(TimeStamped):
    name = models.CharField(_("name"), max_length=200, help_text=_("As typed, in any script"))
    # Latin, lower case, vowel length dropped: finds "रमेश" by "ramesh" and "Ramesh" by "रमेश".
    name_key = models.CharField(_("search key"), max_length=200, db_index=True, editable=False)
    phone = PhoneNumberField(_("mobile number"), unique=True, help_text=_("E.164, mobile only"))
    birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    age = models.PositiveSmallIntegerField(_("age when registered"), null=True, blank=True)
    age_on = models.DateField(_("age given on"), null=True, blank=True)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    language = models.CharField(
        _("preferred language"), max_length=5, choices=Language.choices, default=Language.HINDI
    )
    home_booth = models.ForeignKey(
        Booth, null=True, blank=True, on_delete=models.PROTECT, related_name="people", verbose_name=_("booth")
    )
    source = models.CharField(
        _("recruited through"), max_length=10, choices=Source.choices, default=Source.FORM
    )
    # Unindexed, as the other rarely-filtered foreign keys below: every index costs time on a
    # ten-lakh-row import, and SET NULL on deleting a person may scan.
    referred_by = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="referrals",
        verbose_name=_("referred by"),
        db_index=False,
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="person",
        verbose_name=_("login"),
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="people", verbose_name=_("tags"))

    objects = PersonQuerySet.as_manager()

    class Meta:
        ordering = ["name_key", "id"]
        verbose_name = _("person")
        verbose_name_plural = _("people")

    def __str__(self) -> str:
        return self.name

    def age_on_date(self, day: datetime.date) -> int | None:
        """Age in whole years on ``day``, from the birth date or from the age given when registered."""
        if self.birth_date:
            b = self.birth_date
            return day.year - b.year - ((day.month, day.day) < (b.month, b.day))
        if self.age is not None and self.age_on:
            return self.age + (day - self.age_on).days // 365
        return None


class Channel(models.TextChoices):
    SMS = "sms", _("SMS / phone")
    WHATSAPP = "whatsapp", _("WhatsApp")
    TELEGRAM = "telegram", _("Telegram")
    EMAIL = "email", _("Email")


class ContactPointQuerySet(ScopedQuerySet["ContactPoint"]):
    scope_booth_prefix = "person__home_booth__"
    scope_person_path = "person_id"


class ContactPoint(TimeStamped):
    # Indexed by (person, consent_live) below, which also serves lookups by person alone.
    person = models.ForeignKey(
        Person, on_delete=models.CASCADE, related_name="contact_points", db_index=False
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    address = models.CharField(
        _("address"), max_length=254, help_text=_("E.164 number, Telegram chat id or email address")
    )
    # WhatsApp's business-scoped user id, when a webhook has told us (numbers may be hidden behind it).
    wa_user_id = models.CharField(_("WhatsApp user id"), max_length=64, blank=True)
    consent_live = models.BooleanField(_("consent live"), default=False, editable=False)

    objects = ContactPointQuerySet.as_manager()

    class Meta:
        ordering = ["channel"]
        verbose_name = _("contact point")
        verbose_name_plural = _("contact points")
        constraints = [
            models.UniqueConstraint(fields=["channel", "address"], name="contact_point_unique"),
            models.UniqueConstraint(
                fields=["wa_user_id"], name="contact_point_wa_user_unique", condition=~Q(wa_user_id="")
            ),
        ]
        indexes = [models.Index(fields=["person", "consent_live"], name="contact_point_person_live")]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}"


class ConsentQuerySet(ScopedQuerySet["Consent"]):
    scope_booth_prefix = "contact_point__person__home_booth__"
    scope_person_path = "contact_point__person_id"


class Consent(models.Model):
    """One consent, from giving to (perhaps) withdrawal; never edited otherwise."""

    contact_point = models.ForeignKey(ContactPoint, on_delete=models.CASCADE, related_name="consents")
    given_at = models.DateTimeField(_("given at"))
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    notice_version = models.CharField(_("notice version"), max_length=32)
    notice_language = models.CharField(_("notice language"), max_length=5, choices=Language.choices)
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    withdrawn_via = models.CharField(_("withdrawn via"), max_length=40, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )

    objects = ConsentQuerySet.as_manager()

    class Meta:
        ordering = ["-given_at", "-id"]
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        constraints = [
            # At most one live consent per contact point: giving twice is one consent, not two.
            models.UniqueConstraint(
                fields=["contact_point"], name="consent_one_live", condition=Q(withdrawn_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_point} {self.given_at:%Y-%m-%d}"

    @property
    def live(self) -> bool:
        return self.withdrawn_at is None


class Level(models.TextChoices):
    STATE = "state", _("State")
    DISTRICT = "district", _("District")
    AC = "ac", _("Assembly constituency")
    BLOCK = "block", _("Block")
    PANCHAYAT = "panchayat", _("Panchayat")
    BOOTH = "booth", _("Booth")


class Role(models.TextChoices):
    STATE_COORDINATOR = "state_coordinator", _("State IT-cell coordinator")
    DISTRICT_COORDINATOR = "district_coordinator", _("District IT-cell coordinator")
    AC_COORDINATOR = "ac_coordinator", _("Assembly constituency coordinator")
    BLOCK_COORDINATOR = "block_coordinator", _("Block IT-cell coordinator")
    PANCHAYAT_COORDINATOR = "panchayat_coordinator", _("Panchayat IT-cell coordinator")
    BOOTH_PRESIDENT = "booth_president", _("Booth president")
    BOOTH_VOLUNTEER = "booth_volunteer", _("Booth volunteer (yuva saathi)")


# The unit each role is held at.
ROLE_LEVEL: dict[str, str] = {
    Role.STATE_COORDINATOR: Level.STATE,
    Role.DISTRICT_COORDINATOR: Level.DISTRICT,
    Role.AC_COORDINATOR: Level.AC,
    Role.BLOCK_COORDINATOR: Level.BLOCK,
    Role.PANCHAYAT_COORDINATOR: Level.PANCHAYAT,
    Role.BOOTH_PRESIDENT: Level.BOOTH,
    Role.BOOTH_VOLUNTEER: Level.BOOTH,
}

# Posts that count towards a booth's volunteer target (the seed's "youth from every booth").
COUNTED_ROLES = (Role.BOOTH_VOLUNTEER,)


class PostQuerySet(ScopedQuerySet["Post"]):
    scope_is_post = True  # a post carries its unit's ancestors itself

    def active(self, day: datetime.date) -> PostQuerySet:
        return self.filter(Q(ended_on__isnull=True) | Q(ended_on__gt=day), started_on__lte=day)


class Post(TimeStamped):
    """A person's post at one unit. The unit is the deepest set field for ``level``; the others above
    it are its ancestors, copied so a subtree filter is one condition."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="posts")
    role = models.CharField(_("post"), max_length=24, choices=Role.choices)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, editable=False)
    # Only district and (booth, role) are indexed: posts are found by person (indexed) or listed by
    # district; ten lakh posts should not pay for five more indexes on every import. PROTECT on a
    # rare territory delete scans instead.
    state = models.ForeignKey(State, on_delete=models.PROTECT, related_name="+", db_index=False)
    district = models.ForeignKey(District, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    ac = models.ForeignKey(
        AssemblyConstituency,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    block = models.ForeignKey(
        Block, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    panchayat = models.ForeignKey(
        Panchayat, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    booth = models.ForeignKey(
        Booth, null=True, blank=True, on_delete=models.PROTECT, related_name="posts", db_index=False
    )
    started_on = models.DateField(_("from"))
    ended_on = models.DateField(
        _("until"), null=True, blank=True, help_text=_("The first day without the post")
    )
    referred_by = models.ForeignKey(
        Person,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("referred by"),
        db_index=False,
    )

    objects = PostQuerySet.as_manager()

    class Meta:
        ordering = ["-started_on", "id"]
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        indexes = [
            models.Index(fields=["booth", "role"], name="post_booth_role"),
        ]
        constraints = [
            models.CheckConstraint(
                name="post_unit_matches_level",
                condition=(
                    Q(level=Level.STATE, district__isnull=True, booth__isnull=True)
                    | Q(level=Level.DISTRICT, district__isnull=False, ac__isnull=True, block__isnull=True)
                    | Q(level=Level.AC, ac__isnull=False, block__isnull=True, booth__isnull=True)
                    | Q(level=Level.BLOCK, block__isnull=False, panchayat__isnull=True, booth__isnull=True)
                    | Q(level=Level.PANCHAYAT, panchayat__isnull=False, booth__isnull=True)
                    | Q(level=Level.BOOTH, booth__isnull=False)
                ),
            ),
            models.CheckConstraint(
                name="post_dates_in_order",
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("started_on")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()} · {self.unit}"

    @property
    def unit(self) -> models.Model:
        return {
            Level.STATE: self.state,
            Level.DISTRICT: self.district,
            Level.AC: self.ac,
            Level.BLOCK: self.block,
            Level.PANCHAYAT: self.panchayat,
            Level.BOOTH: self.booth,
        }[Level(self.level)]  # type: ignore[return-value]

    def is_active(self, day: datetime.date) -> bool:
        return self.started_on <= day and (self.ended_on is None or self.ended_on > day)


class BoothCoverage(models.Model):
    """Counted volunteers at one booth (booths with none have no row). Written only by services.

    Carries the booth's ancestors, copied like a post's, so coverage of any unit is a scan of this
    narrow table without a join to the booth table (``services.refresh_placements`` re-copies them
    when the panchayat mapping relinks booths).
    """

    booth = models.OneToOneField(Booth, primary_key=True, on_delete=models.CASCADE, related_name="coverage")
    volunteers = models.PositiveIntegerField(default=0)
    state = models.ForeignKey(State, on_delete=models.DO_NOTHING, related_name="+", db_index=False)
    district = models.ForeignKey(District, on_delete=models.DO_NOTHING, related_name="+")
    ac = models.ForeignKey(
        AssemblyConstituency, on_delete=models.DO_NOTHING, related_name="+", db_index=False
    )
    block = models.ForeignKey(Block, null=True, on_delete=models.DO_NOTHING, related_name="+", db_index=False)
    panchayat = models.ForeignKey(
        Panchayat, null=True, on_delete=models.DO_NOTHING, related_name="+", db_index=False
    )

    class Meta:
        verbose_name = _("booth coverage")
        verbose_name_plural = _("booth coverage")
        # Covering indexes in the order coverage groups by: a state's or a district's figures are one
        # index-only pass (coverage.py), no table rows read.
        indexes = [
            models.Index(
                fields=["state", "district", "block", "panchayat", "volunteers"], name="coverage_state_tree"
            ),
            models.Index(
                fields=["district", "block", "panchayat", "volunteers"], name="coverage_district_tree"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.booth_id}: {self.volunteers}"
