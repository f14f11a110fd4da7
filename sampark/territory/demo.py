"""A synthetic, Bihar-shaped organisation to try Sampark with: :func:`build_demo`.

The demo fills an *empty* database with one state ("Bihar", LGD 10, ECI S04) and, below it, made-up
districts, parliamentary and assembly constituencies, blocks, gram panchayats and urban bodies, and
polling booths (main and auxiliary) with Hindi and English names, plausible coordinates, facilities
and elector ranges, plus a ``demo`` superuser. ``scale="state"`` has the real state's shape (38
districts, 243 ACs, 534 blocks, ~8,000 panchayats, ~1.06 lakh booths); ``scale="small"`` is a
three-district slice that builds in about a second. The territory is made up in memory by
:mod:`sampark.territory.demo_plan`; this module writes it.

Deterministic: the same seed gives the same rows (apart from ``created_at``/``updated_at``, which are
one timestamp for the whole build) on every machine.

Codes, chosen so that real LGD imports into the same database never collide with demo rows:

* LGD codes have at most six digits; demo districts use ``90_000_001…``, blocks ``91_000_001…`` and
  panchayats ``92_000_001…`` (``lgd_code >= DEMO_LGD_BASE`` marks a demo unit).
* Census 2011 district codes run to 640; demo districts use ``901…``.
* ``District.ceo_number`` is left empty: it is unique per state and belongs to the real CEO import.
* Booths carry ``coordinate_quality="demo"`` and ``source="sampark demo --seed N"``.

The state itself is the real one (LGD 10), and AC, PC and booth numbers are the ECI's own keys, so a
real ECI/CEO import would *match* demo ACs and booths instead of adding beside them: import real data
into a fresh ``SAMPARK_HOME``, not over a demo.
"""

from __future__ import annotations

import random
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from sampark.core.bulk import BulkInserter
from sampark.territory.demo_plan import (
    BOOTH_FIELDS,
    DEMO_LGD_BASE,
    SCALES,
    BoothMaker,
    DemoError,
    Plan,
    Scale,
    is_auxiliary,
    plan_territory,
)
from sampark.territory.importers.base import Progress, no_progress
from sampark.territory.models import (
    AssemblyConstituency,
    Block,
    Booth,
    District,
    Panchayat,
    ParliamentaryConstituency,
    State,
)
from sampark.territory.selectors import forget_counts

__all__ = [
    "DEMO_LGD_BASE",
    "DEMO_USERNAME",
    "SCALES",
    "DemoError",
    "DemoSummary",
    "Scale",
    "TerritoryNotEmpty",
    "build_demo",
    "has_territory",
]

DEMO_USERNAME = "demo"


class TerritoryNotEmpty(DemoError):
    pass


@dataclass(frozen=True, slots=True)
class DemoSummary:
    scale: str
    seed: int
    state: str
    districts: int
    pcs: int
    acs: int
    blocks: int
    gram_panchayats: int
    urban_bodies: int
    main_booths: int
    auxiliary_booths: int
    username: str
    password: str | None
    """The new password; ``None`` when the user already existed and its password was kept."""
    seconds: float
    extra: tuple[tuple[str, int], ...] = ()
    """``(label, count)`` from the apps' demo hooks (volunteers, …)."""
    logins: tuple[str, ...] = ()
    """More demo usernames the hooks made, with the same password (scoped views to try)."""

    @property
    def panchayats(self) -> int:
        return self.gram_panchayats + self.urban_bodies

    @property
    def booths(self) -> int:
        return self.main_booths + self.auxiliary_booths


@dataclass(frozen=True, slots=True)
class DemoPart:
    """What an app's demo hook added: summary rows ``(label, count)`` and logins made."""

    rows: tuple[tuple[str, int], ...] = ()
    logins: tuple[str, ...] = ()


def has_territory() -> bool:
    """Whether any state exists (the demo only ever fills an empty territory)."""
    return State.objects.exists()


def build_demo(
    *,
    scale: str = "small",
    seed: int = 1,
    password: str | None = None,
    progress: Progress | None = None,
    hooks: bool = True,
) -> DemoSummary:
    """Build the demo organisation in one transaction; nothing is written if anything fails.

    Raises :class:`TerritoryNotEmpty` if a state exists, ``ValueError`` for an unknown scale and
    ``django.core.exceptions.ValidationError`` if ``password`` fails the password validators. The
    ``demo`` user is created as a superuser with ``password`` (or a random one); if it exists, its
    password is changed only when ``password`` is given. ``hooks=False`` builds the territory only
    (benchmarks that import their own people).
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    if password is not None:
        validate_password(password, get_user_model()(username=DEMO_USERNAME))
    started = time.perf_counter()
    progress = progress or no_progress
    size = SCALES[scale]
    rng = random.Random(seed)
    plan = plan_territory(size, rng)
    with transaction.atomic():
        forget_counts()  # and again once this transaction commits
        if has_territory():
            raise TerritoryNotEmpty(
                _("The database already has territory data; the demo needs an empty one.")
            )
        state = State.objects.create(
            lgd_code=10, name_en="Bihar", name_hi="बिहार", eci_code="S04", census2011_code="10"
        )
        writer = _Writer(state, progress)
        writer.territory(plan)
        maker = BoothMaker(rng, state_id=state.pk, source=f"sampark demo --seed {seed}")
        main, auxiliary = writer.booths(plan, maker, total=size.main_booths + size.auxiliary_booths)
        new_password = _ensure_login(password)
        extra: list[tuple[str, int]] = []
        logins: list[str] = []
        for hook in demo_hooks() if hooks else []:
            # The hooks learn the demo password when it is new, to give their own demo logins the same.
            part = hook(state=state, scale=scale, seed=seed, progress=progress, password=new_password)
            extra += part.rows
            logins += part.logins
    urban = sum(p.kind == Panchayat.Kind.URBAN for p in plan.panchayats)
    return DemoSummary(
        scale=scale,
        seed=seed,
        state=state.name_en,
        districts=len(plan.districts),
        pcs=len(plan.pcs),
        acs=len(plan.acs),
        blocks=len(plan.blocks),
        gram_panchayats=len(plan.panchayats) - urban,
        urban_bodies=urban,
        main_booths=main,
        auxiliary_booths=auxiliary,
        username=DEMO_USERNAME,
        password=new_password,
        seconds=time.perf_counter() - started,
        extra=tuple(extra),
        logins=tuple(logins),
    )


def demo_hooks() -> list[Callable[..., DemoPart]]:
    """The ``demo`` hooks of installed apps (dotted paths in ``AppConfig.demo``), in app order.

    Apps further down the import chain (people, …) add their demo data this way, inside the demo's
    transaction, without territory importing them.
    """
    from django.apps import apps
    from django.utils.module_loading import import_string

    dotted = [getattr(config, "demo", "") for config in apps.get_app_configs()]
    return [import_string(path) for path in dotted if path]


def _ensure_login(password: str | None) -> str | None:
    """Create the ``demo`` superuser, or set an existing one's password only if one is given."""
    user_model = get_user_model()
    manager: Any = user_model._default_manager
    user = manager.filter(**{user_model.USERNAME_FIELD: DEMO_USERNAME}).first()
    if user is None:
        password = password or secrets.token_urlsafe(12)
        manager.create_superuser(DEMO_USERNAME, email="", password=password)
        return password
    if password is not None:
        user.set_password(password)
        user.save(update_fields=["password"])
    return password


class _Writer:
    def __init__(self, state: State, progress: Progress) -> None:
        self.state = state
        self.progress = progress
        self.now = connection.ops.adapt_datetimefield_value(timezone.now())

    def _store(
        self,
        model: type[models.Model],
        fields: Sequence[str],
        units: Sequence[Any],
        row: Callable[[Any], tuple[Any, ...]],
        key: str,
        stored: models.QuerySet[Any],
    ) -> None:
        """Insert ``units`` and give each its new id, found by its natural ``key``."""
        BulkInserter(model, fields, self.now).add_all(row(u) for u in units)
        ids = dict(stored.values_list(key, "pk"))
        for unit in units:
            unit.id = ids[getattr(unit, key)]

    def territory(self, plan: Plan) -> None:
        s = self.state
        advance = self.progress(
            _("Districts, constituencies and blocks"),
            len(plan.districts) + len(plan.pcs) + len(plan.acs) + len(plan.blocks),
        )
        self._store(
            District,
            ["state", "lgd_code", "census2011_code", "name_hi", "name_en"],
            plan.districts,
            lambda d: (s.pk, d.lgd_code, d.census, *d.name),
            "lgd_code",
            District.objects.filter(state=s),
        )
        advance(len(plan.districts))
        self._store(
            ParliamentaryConstituency,
            ["state", "number", "reservation", "name_hi", "name_en"],
            plan.pcs,
            lambda pc: (s.pk, pc.number, pc.reservation, *pc.name),
            "number",
            ParliamentaryConstituency.objects.filter(state=s),
        )
        advance(len(plan.pcs))
        self._store(
            AssemblyConstituency,
            ["state", "district", "pc", "number", "reservation", "name_hi", "name_en"],
            plan.acs,
            lambda ac: (
                s.pk,
                ac.district.id,
                ac.pc.id if ac.pc else None,
                ac.number,
                ac.reservation,
                *ac.name,
            ),
            "number",
            AssemblyConstituency.objects.filter(state=s),
        )
        advance(len(plan.acs))
        self._store(
            Block,
            ["district", "lgd_code", "name_hi", "name_en"],
            plan.blocks,
            lambda b: (b.district.id, b.lgd_code, *b.name),
            "lgd_code",
            Block.objects.filter(district__state=s),
        )
        advance(len(plan.blocks))

        advance = self.progress(_("Panchayats"), len(plan.panchayats))
        self._store(
            Panchayat,
            ["district", "block", "kind", "lgd_code", "name_hi", "name_en"],
            plan.panchayats,
            lambda p: (p.block.district.id, p.block.id, p.kind, p.lgd_code, *p.name),
            "lgd_code",
            Panchayat.objects.filter(district__state=s),
        )
        advance(len(plan.panchayats))

    def booths(self, plan: Plan, maker: BoothMaker, *, total: int) -> tuple[int, int]:
        """Write every AC's booths, a chunk at a time; returns the (main, auxiliary) counts."""
        advance = self.progress(_("Polling booths"), total)
        inserter = BulkInserter(Booth, BOOTH_FIELDS, self.now)
        written = auxiliary = 0
        for ac in plan.acs:
            before = written
            for row in maker.rows(ac):
                inserter.add(row)
                written += 1
                auxiliary += is_auxiliary(row)
            advance(written - before)
        inserter.flush()
        return written - auxiliary, auxiliary
