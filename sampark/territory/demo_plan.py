"""The demo's made-up territory, in memory: names, units from district to panchayat, and booth rows.

Pure Python, no database: :func:`plan_territory` lays out districts, blocks, panchayats, ACs and PCs;
:class:`BoothMaker` then yields each AC's booths as rows once the writer has given the units their
ids (:mod:`sampark.territory.demo` does the writing). Everything is drawn from one
:class:`random.Random` in a fixed order, and nothing iterates a set or a hash-ordered dict, so a seed
gives the same territory on every machine and every ``PYTHONHASHSEED``.

Names are built from Bihar-like roots and endings (राम + पुर = रामपुर / Rampur) listed here, so the
demo needs no data files; the real districts' names are kept out.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sampark.core.text import clean
from sampark.territory.models import Booth, CoordinateQuality, Panchayat, Reservation

# LGD codes today have at most six digits: eight-digit codes from here up are never real.
DEMO_LGD_BASE = 90_000_000
LGD_DISTRICT, LGD_BLOCK, LGD_PANCHAYAT = 90_000_000, 91_000_000, 92_000_000
# Census 2011 numbers districts 001-640; demo districts are 901 onwards.
CENSUS_DISTRICT = 900
# Bihar's bounding box; every demo coordinate lies inside it.
LAT_MIN, LAT_MAX, LON_MIN, LON_MAX = 24.3, 27.5, 83.4, 88.2


@dataclass(frozen=True, slots=True)
class Scale:
    districts: int
    pcs: int
    acs: int
    blocks: int
    gram_panchayats: int
    urban_bodies: int
    main_booths: int
    auxiliary_booths: int


SCALES: dict[str, Scale] = {
    "small": Scale(
        3, pcs=2, acs=9, blocks=8, gram_panchayats=76, urban_bodies=4, main_booths=420, auxiliary_booths=180
    ),
    # Bihar 2020: 38 districts, 40 PCs, 243 ACs, 534 blocks, ~8,000 panchayats, ~72.7k + ~33.8k booths.
    "state": Scale(
        38,
        pcs=40,
        acs=243,
        blocks=534,
        gram_panchayats=7_740,
        urban_bodies=260,
        main_booths=72_723,
        auxiliary_booths=33_797,
    ),
}


class DemoError(Exception):
    """The demo cannot be built; the message says why."""


# --- names ---------------------------------------------------------------------------------------

Name = tuple[str, str]
"""(Hindi, English)"""


def _pairs(text: str) -> tuple[Name, ...]:
    """``"राम=Ram सीता=Sita"`` → pairs; ``_`` stands for a space; Hindi is NFC-normalised."""
    pairs = []
    for item in text.split():
        hi, en = item.split("=")
        pairs.append((clean(hi.replace("_", " ")), en.replace("_", " ")))
    return tuple(pairs)


_ROOTS = _pairs("""
    राम=Ram सीता=Sita लक्ष्मी=Lakshmi हरि=Hari शिव=Shiv किशन=Kishan मोहन=Mohan गोपाल=Gopal माधो=Madho
    बिशुन=Bishun रघु=Raghu जगदीश=Jagdish नारायण=Narayan भगवान=Bhagwan देव=Dev सुल्तान=Sultan शेख=Sheikh
    मुबारक=Mubarak फतेह=Fateh अली=Ali हसन=Hasan करीम=Karim नवाब=Nawab बेगू=Begu मधु=Madhu सोन=Son
    गंगा=Ganga कोसी=Kosi कमला=Kamla चंद=Chand सूरज=Suraj रतन=Ratan हीरा=Hira मानिक=Manik मोती=Moti
    सोना=Sona बेला=Bela बिक्रम=Bikram नौबत=Naubat संपत=Sampat खुसरू=Khusru बख्तियार=Bakhtiyar धन=Dhan
    फुल=Phul रानी=Rani राजा=Raja बाबू=Babu कुंवर=Kunwar दुर्गा=Durga काली=Kali महेश=Mahesh गणेश=Ganesh
    बिहारी=Bihari जनक=Janak अमर=Amar चैन=Chain सुख=Sukh नाथ=Nath पीर=Pir मीर=Mir जमाल=Jamal रसूल=Rasul
    बहादुर=Bahadur उदय=Uday कल्याण=Kalyan मंगल=Mangal बुध=Budh सोम=Som गोविंद=Govind केशव=Keshav
    भीम=Bhim अर्जुन=Arjun बलि=Bali हाजी=Haji पहाड़=Pahar जोगी=Jogi साहेब=Saheb चन्दन=Chandan कुश=Kush
    रूप=Rup बेनी=Beni इंद्र=Indra दौलत=Daulat नरसिंह=Narsingh परसा=Parsa महादेव=Mahadev सिकंदर=Sikandar
""")
# Place-name endings, weighted by how common they are (पुर and गंज dominate in Bihar).
_SUFFIXES = _pairs("""
    पुर=pur गंज=ganj नगर=nagar बाग=bagh हाट=hat टोला=tola गढ़=garh डीह=dih पट्टी=patti सराय=sarai
    बिगहा=bigha पुरा=pura वारी=wari बनी=bani मढ़ी=marhi चक=chak घाट=ghat बारी=bari कोठी=kothi
    पोखर=pokhar गाछी=gachhi बाजार=bazar पाली=pali
""")
_SUFFIX_WEIGHTS = (30, 12, 8, 4, 3, 5, 4, 4, 3, 2, 3, 3, 2, 2, 2, 3, 2, 2, 2, 1, 1, 2, 1)
_QUALIFIERS = _pairs("खुर्द=Khurd कलां=Kalan बुजुर्ग=Buzurg पूर्वी=Purvi पश्चिमी=Pashchimi उत्तरी=Uttari")
_CHAK = ("चक", "Chak")
# Real district names stay out of the demo, so nobody mistakes a demo district for a real one.
_REAL_DISTRICT_NAMES = """
    araria arwal aurangabad banka begusarai bhagalpur bhojpur buxar darbhanga gaya gopalganj jamui jehanabad
    kaimur katihar khagaria kishanganj lakhisarai madhepura madhubani munger muzaffarpur nalanda nawada patna
    purnia rohtas saharsa samastipur saran sheikhpura sheohar sitamarhi siwan supaul vaishali
"""
_REAL_DISTRICTS = frozenset(_REAL_DISTRICT_NAMES.split())
_BUILDINGS = _pairs("""
    प्राथमिक_विद्यालय=Prathamik_Vidyalay मध्य_विद्यालय=Madhya_Vidyalay
    उत्क्रमित_मध्य_विद्यालय=Utkramit_Madhya_Vidyalay नव_प्राथमिक_विद्यालय=Nav_Prathamik_Vidyalay
    उच्च_विद्यालय=Uchch_Vidyalay कन्या_मध्य_विद्यालय=Kanya_Madhya_Vidyalay
    उर्दू_प्राथमिक_विद्यालय=Urdu_Prathamik_Vidyalay पंचायत_भवन=Panchayat_Bhawan
    सामुदायिक_भवन=Samudayik_Bhawan आँगनबाड़ी_केन्द्र=Anganbari_Kendra किसान_भवन=Kisan_Bhawan
    उत्क्रमित_उच्च_विद्यालय=Utkramit_Uchch_Vidyalay
""")
_BUILDING_WEIGHTS = (30, 22, 16, 8, 6, 4, 3, 4, 3, 2, 1, 3)
# A building with several booths names each one's part of the building, as the official lists do.
_PARTS = {
    2: (
        _pairs("पूर्वी_भाग=East_part पश्चिमी_भाग=West_part"),
        _pairs("उत्तरी_भाग=North_part दक्षिणी_भाग=South_part"),
        _pairs("बायाँ_भाग=Left_part दायाँ_भाग=Right_part"),
    ),
    3: (
        _pairs("पूर्वी_भाग=East_part मध्य_भाग=Middle_part पश्चिमी_भाग=West_part"),
        _pairs("उत्तरी_भाग=North_part मध्य_भाग=Middle_part दक्षिणी_भाग=South_part"),
    ),
}
_AUXILIARY = ("सहायक", "Auxiliary")
_WARD = ("वार्ड संख्या", "Ward No.")
_URBAN = {
    "nigam": (("नगर निगम", "Nagar Nigam"), 30.0),
    "parishad": (("नगर परिषद", "Nagar Parishad"), 8.0),
    "panchayat": (("नगर पंचायत", "Nagar Panchayat"), 3.0),
}


class Names:
    """Place names from the root and ending lists, with optional खुर्द/कलां-style qualifiers."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def place(self, *, qualified: bool = False) -> Name:
        rng = self.rng
        root = rng.choice(_ROOTS)
        suffix = rng.choices(_SUFFIXES, _SUFFIX_WEIGHTS)[0]
        hi, en = root[0] + suffix[0], root[1] + suffix[1]
        if qualified:
            roll = rng.random()
            if roll < 0.06:
                hi, en = f"{_CHAK[0]} {hi}", f"{_CHAK[1]} {en}"
            elif roll < 0.18:
                qualifier = rng.choice(_QUALIFIERS)
                hi, en = f"{hi} {qualifier[0]}", f"{en} {qualifier[1]}"
        return clean(hi), en

    def unique(self, taken: set[str], *, qualified: bool = False) -> Name:
        """A name whose Hindi and English forms are both not in ``taken``; both are added to it."""
        for _attempt in range(10_000):
            hi, en = self.place(qualified=qualified)
            if hi not in taken and en.lower() not in taken and en.lower() not in _REAL_DISTRICTS:
                taken.update((hi, en.lower()))
                return hi, en
        raise DemoError("ran out of distinct names")


# --- units ---------------------------------------------------------------------------------------
# ``id`` is 0 until the writer has stored the unit.


@dataclass(slots=True, eq=False)
class PlanDistrict:
    lgd_code: int
    census: str
    name: Name
    centre: tuple[float, float]
    spread: float
    acs: int = 0
    blocks: list[PlanBlock] = field(default_factory=list)
    id: int = 0


@dataclass(slots=True, eq=False)
class PlanBlock:
    lgd_code: int
    name: Name
    district: PlanDistrict
    centre: tuple[float, float]
    panchayats: list[PlanPanchayat] = field(default_factory=list)
    id: int = 0


@dataclass(slots=True, eq=False)
class PlanPanchayat:
    name: Name
    block: PlanBlock
    centre: tuple[float, float]
    weight: float  # share of its AC's booths
    kind: str = Panchayat.Kind.GRAM_PANCHAYAT.value
    town: Name | None = None  # an urban body's town, whose wards it has
    lgd_code: int = 0
    id: int = 0


@dataclass(slots=True, eq=False)
class PlanPC:
    number: int
    name: Name = ("", "")
    reservation: str = Reservation.GENERAL.value
    id: int = 0


@dataclass(slots=True, eq=False)
class PlanAC:
    number: int
    name: Name
    district: PlanDistrict
    panchayats: list[PlanPanchayat]
    pc: PlanPC | None = None
    reservation: str = Reservation.GENERAL.value
    main: int = 0
    auxiliary: int = 0
    id: int = 0


@dataclass(slots=True)
class Plan:
    districts: list[PlanDistrict]
    blocks: list[PlanBlock]
    panchayats: list[PlanPanchayat]
    acs: list[PlanAC]
    pcs: list[PlanPC]


def apportion(total: int, weights: Sequence[float], minimum: int | Sequence[int] = 0) -> list[int]:
    """Split ``total`` into whole shares by weight, each at least its ``minimum``, by largest remainder."""
    floors = [minimum] * len(weights) if isinstance(minimum, int) else list(minimum)
    rest = total - sum(floors)
    if rest < 0:
        raise DemoError(f"cannot share {total} among {len(weights)} with minimums totalling {sum(floors)}")
    whole = sum(weights)
    quotas = [rest * w / whole for w in weights]
    shares = [int(q) for q in quotas]
    by_remainder = sorted(range(len(weights)), key=lambda i: (shares[i] - quotas[i], i))
    for i in by_remainder[: rest - sum(shares)]:
        shares[i] += 1
    return [s + f for s, f in zip(shares, floors, strict=True)]


def _runs(rng: random.Random, block_sizes: Sequence[int], parts: int) -> list[int]:
    """Cut a district's panchayats (block by block) into ``parts`` contiguous runs of similar length.

    Most cuts move to the nearest block boundary, so an AC usually takes whole blocks; the rest split a
    block between two ACs, as real delimitation does.
    """
    total = sum(block_sizes)
    bounds = list(itertools.accumulate(block_sizes))[:-1]
    cuts = list(itertools.accumulate(apportion(total, [rng.uniform(0.8, 1.2) for _i in range(parts)], 1)))
    cuts.pop()
    for i, cut in enumerate(cuts):
        if bounds and rng.random() < 0.7:
            cut = min(bounds, key=lambda b: (abs(b - cut), b))
        cuts[i] = min(max(cut, (cuts[i - 1] if i else 0) + 1), total - (parts - 1 - i))
    edges = [0, *cuts, total]
    return [edges[i + 1] - edges[i] for i in range(parts)]


def _near(rng: random.Random, centre: tuple[float, float], sigma: float) -> tuple[float, float]:
    lat = min(max(rng.gauss(centre[0], sigma), LAT_MIN), LAT_MAX)
    lon = min(max(rng.gauss(centre[1], sigma), LON_MIN), LON_MAX)
    return lat, lon


def plan_territory(size: Scale, rng: random.Random) -> Plan:
    """Districts, blocks, panchayats, ACs and PCs in the proportions of ``size``."""
    planner = _Planner(size, rng)
    districts = planner.districts()
    blocks = planner.blocks(districts)
    panchayats = planner.panchayats(blocks)
    acs = planner.acs(districts)
    return Plan(districts, blocks, panchayats, acs, planner.pcs(acs))


class _Planner:
    def __init__(self, size: Scale, rng: random.Random) -> None:
        self.size = size
        self.rng = rng
        self.names = Names(rng)
        self.taken: set[str] = set()  # district, block, AC and PC names: unique in the state

    def districts(self) -> list[PlanDistrict]:
        """Districts on a jittered grid over the state (about 1.5 times wider than tall), numbered row
        by row from the north-west, as the election office numbers its constituencies."""
        rng, n = self.rng, self.size.districts
        cols = max(1, round(math.sqrt(n * 1.5)))
        rows = math.ceil(n / cols)
        cells = [(r, c) for r in range(rows) for c in range(cols)]
        rng.shuffle(cells)
        height, width = (27.2 - 24.6) / rows, (87.8 - 83.8) / cols
        districts = []
        for i, (r, c) in enumerate(sorted(cells[:n], key=lambda rc: (-rc[0], rc[1])), start=1):
            centre = (
                24.6 + (r + 0.5 + rng.uniform(-0.3, 0.3)) * height,
                83.8 + (c + 0.5 + rng.uniform(-0.3, 0.3)) * width,
            )
            districts.append(
                PlanDistrict(
                    LGD_DISTRICT + i,
                    str(CENSUS_DISTRICT + i),
                    self.names.unique(self.taken),
                    centre,
                    spread=0.3 * min(height, width),
                )
            )
        # Real districts range from one AC to fourteen; a log-normal spread gives that shape.
        ac_counts = apportion(
            self.size.acs,
            [rng.lognormvariate(0, 0.45) for _i in districts],
            minimum=2 if self.size.acs >= 2 * n else 1,
        )
        for district, count in zip(districts, ac_counts, strict=True):
            district.acs = count
        return districts

    def blocks(self, districts: list[PlanDistrict]) -> list[PlanBlock]:
        """About 2.2 blocks per AC; a district's first block is its headquarters and bears its name."""
        rng = self.rng
        counts = apportion(
            self.size.blocks,
            [d.acs * rng.uniform(0.8, 1.25) for d in districts],
            minimum=2 if self.size.blocks >= 2 * len(districts) else 1,
        )
        blocks: list[PlanBlock] = []
        for district, count in zip(districts, counts, strict=True):
            for k in range(count):
                if k == 0:
                    block = PlanBlock(LGD_BLOCK + len(blocks) + 1, district.name, district, district.centre)
                else:
                    block = PlanBlock(
                        LGD_BLOCK + len(blocks) + 1,
                        self.names.unique(self.taken),
                        district,
                        _near(rng, district.centre, district.spread),
                    )
                district.blocks.append(block)
                blocks.append(block)
        return blocks

    def panchayats(self, blocks: list[PlanBlock]) -> list[PlanPanchayat]:
        """Gram panchayats in every block, and urban bodies: one at each district headquarters (a nagar
        nigam in the larger districts), the rest at other block headquarters."""
        rng, size = self.rng, self.size
        heads = [b for b in blocks if b is b.district.blocks[0]]
        big = sorted(heads, key=lambda b: -b.district.acs)[: math.ceil(len(heads) * 0.3)]
        urban: dict[int, str] = {id(b): "nigam" if b in big else "parishad" for b in heads}
        others = [b for b in blocks if b is not b.district.blocks[0]]
        for block in rng.sample(others, min(len(others), max(0, size.urban_bodies - len(heads)))):
            urban[id(block)] = "parishad" if rng.random() < 0.35 else "panchayat"
        panchayats: list[PlanPanchayat] = []
        names_in: dict[int, set[str]] = {}  # per district
        counts = apportion(size.gram_panchayats, [rng.uniform(0.6, 1.4) for _i in blocks], minimum=3)
        for block, count in zip(blocks, counts, strict=True):
            taken = names_in.setdefault(id(block.district), set())
            members = [
                PlanPanchayat(
                    self.names.unique(taken, qualified=True),
                    block,
                    _near(rng, block.centre, 0.05),
                    rng.uniform(0.6, 1.5),
                )
                for _i in range(count)
            ]
            if id(block) in urban:
                (label, weight) = _URBAN[urban[id(block)]]
                town = block.name
                body = PlanPanchayat(
                    (f"{town[0]} {label[0]}", f"{town[1]} {label[1]}"),
                    block,
                    _near(rng, block.centre, 0.01),
                    weight * rng.uniform(0.8, 1.2),
                    kind=Panchayat.Kind.URBAN.value,
                    town=town,
                )
                members.insert(rng.randrange(len(members) + 1), body)
            for p in members:
                p.lgd_code = LGD_PANCHAYAT + len(panchayats) + 1
                panchayats.append(p)
            block.panchayats = members
        return panchayats

    def acs(self, districts: list[PlanDistrict]) -> list[PlanAC]:
        """Each district's panchayats, in block order, cut into contiguous runs: an AC lies in one
        district and spans one to a few neighbouring blocks. Booth counts are near-equal, as
        delimitation aims for."""
        rng, size = self.rng, self.size
        acs: list[PlanAC] = []
        for district in districts:
            sequence = [p for b in district.blocks for p in b.panchayats]
            start = 0
            for count in _runs(rng, [len(b.panchayats) for b in district.blocks], district.acs):
                members = sequence[start : start + count]
                start += count
                # Named after the block holding most of its panchayats, as ACs usually are.
                tally: dict[int, int] = {}
                for p in members:
                    tally[id(p.block)] = tally.get(id(p.block), 0) + 1
                home = max((p.block for p in members), key=lambda b: tally[id(b)])
                name = (
                    home.name if not any(a.name == home.name for a in acs) else self.names.unique(self.taken)
                )
                acs.append(PlanAC(len(acs) + 1, name, district, members))
        mains = apportion(
            size.main_booths,
            [rng.uniform(0.85, 1.15) for _i in acs],
            minimum=[len(a.panchayats) for a in acs],
        )
        auxiliaries = apportion(size.auxiliary_booths, [a * rng.uniform(0.7, 1.3) for a in mains])
        for ac, main, auxiliary in zip(acs, mains, auxiliaries, strict=True):
            ac.main, ac.auxiliary = main, min(main, auxiliary)
        short = size.auxiliary_booths - sum(a.auxiliary for a in acs)  # what the cap took, put back
        for ac in acs:
            extra = min(short, ac.main - ac.auxiliary)
            ac.auxiliary += extra
            short -= extra
        # Bihar reserves 38 ACs for Scheduled Castes and 2 for Scheduled Tribes; at least one each.
        for kind, share in ((Reservation.SC.value, 38 / 243), (Reservation.ST.value, 2 / 243)):
            free = [a for a in acs if a.reservation == Reservation.GENERAL.value]
            for ac in rng.sample(free, min(len(free), max(1, round(len(acs) * share)))):
                ac.reservation = kind
        return acs

    def pcs(self, acs: list[PlanAC]) -> list[PlanPC]:
        """Runs of about six consecutive ACs, named after a district headquarters where one is free."""
        rng = self.rng
        pcs = [PlanPC(k + 1) for k in range(self.size.pcs)]
        used: set[str] = set()
        start = 0
        for pc, count in zip(pcs, apportion(len(acs), [rng.uniform(0.9, 1.1) for _i in pcs], 1), strict=True):
            members = acs[start : start + count]
            start += count
            for ac in members:
                ac.pc = pc
            candidates = [members[0].district.name, members[-1].district.name, members[0].name]
            pc.name = next((c for c in candidates if c[0] not in used), None) or self.names.unique(self.taken)
            used.add(pc.name[0])
        for pc in rng.sample(pcs, round(len(pcs) * 6 / 40)):  # 6 of Bihar's 40 PCs are SC seats
            pc.reservation = Reservation.SC.value
        return pcs


# --- booths --------------------------------------------------------------------------------------

BOOTH_FIELDS = (
    "state",
    "district",
    "ac",
    "block",
    "panchayat",
    "number",
    "suffix",
    "code",
    "kind",
    "name",
    "name_hi",
    "latitude",
    "longitude",
    "coordinate_quality",
    "electricity",
    "toilet",
    "ramp",
    "elector_from",
    "elector_to",
    "source",
)
"""The Booth fields, in the order of :meth:`BoothMaker.rows`' tuples."""
_SUFFIX_AT = BOOTH_FIELDS.index("suffix")
_MAIN, _AUX, _DEMO = Booth.Kind.MAIN.value, Booth.Kind.AUXILIARY.value, CoordinateQuality.DEMO.value


def is_auxiliary(row: tuple[Any, ...]) -> bool:
    return bool(row[_SUFFIX_AT])


@dataclass(slots=True)
class _Building:
    place: int  # index of its village or ward in the panchayat
    name: Name
    village: Name
    parts: Sequence[Name]
    latitude: Decimal
    longitude: Decimal
    facilities: tuple[bool | None, bool | None, bool | None]  # electricity, toilet, ramp


def _coordinate(value: float) -> Decimal:
    return Decimal(f"{value:.6f}")


class BoothMaker:
    """Each AC's booths as rows of :data:`BOOTH_FIELDS`, for units the writer has given ids."""

    def __init__(self, rng: random.Random, *, state_id: int, source: str) -> None:
        self.rng = rng
        self.names = Names(rng)
        self.state_id = state_id
        self.source = source

    def rows(self, ac: PlanAC) -> Iterator[tuple[Any, ...]]:
        rng = self.rng
        per_panchayat = apportion(ac.main, [p.weight for p in ac.panchayats], minimum=1)
        # Auxiliary booths (2020: rolls split so that no booth has over 1,000 electors) take the main
        # booth's number with the suffix A, a few a second one B; they share its building.
        b_count = ac.auxiliary // 20
        with_a = set(rng.sample(range(ac.main), ac.auxiliary - b_count))
        with_b = set(rng.sample(sorted(with_a), b_count))
        number = 0
        for panchayat, count in zip(ac.panchayats, per_panchayat, strict=True):
            for building in self._buildings(panchayat, count):
                for part in building.parts:
                    number += 1
                    suffixes = ["", *["A"] * (number - 1 in with_a), *["B"] * (number - 1 in with_b)]
                    hi = f"{building.name[0]} {building.village[0]}" + (f" ({part[0]})" if part[0] else "")
                    en = f"{building.name[1]} {building.village[1]}" + (f" ({part[1]})" if part[1] else "")
                    for suffix, (first, last) in zip(suffixes, self._electors(len(suffixes)), strict=True):
                        yield (
                            self.state_id,
                            ac.district.id,
                            ac.id,
                            panchayat.block.id,
                            panchayat.id,
                            number,
                            suffix,
                            Booth.make_code(ac.number, number, suffix),
                            _AUX if suffix else _MAIN,
                            f"{en} ({_AUXILIARY[1]})" if suffix else en,
                            f"{hi} ({_AUXILIARY[0]})" if suffix else hi,
                            building.latitude,
                            building.longitude,
                            _DEMO,
                            *building.facilities,
                            first,
                            last,
                            self.source,
                        )

    def _buildings(self, panchayat: PlanPanchayat, booths: int) -> list[_Building]:
        """Buildings holding ``booths`` booths, village by village (or ward by ward), as lists run."""
        rng = self.rng
        if panchayat.town:
            town = panchayat.town
            wards = max(2, math.ceil(booths / rng.uniform(2.5, 4.0)))
            places = [(f"{town[0]} {_WARD[0]} {k}", f"{town[1]} {_WARD[1]} {k}") for k in range(1, wards + 1)]
            sigma = 0.006
        else:
            villages = max(1, min(6, round(booths / rng.uniform(2.0, 3.5))))
            taken = {panchayat.name[0], panchayat.name[1].lower()}
            places = [
                panchayat.name,
                *(self.names.unique(taken, qualified=True) for _i in range(villages - 1)),
            ]
            sigma = 0.012
        # Buildings are dealt to the places in turn (so every place gets some), each place drawing
        # building types without repeats until it has used them all.
        pools: list[list[int]] = [[] for _i in places]
        buildings: list[_Building] = []
        left = booths
        while left:
            k = len(buildings) % len(places)
            pool = pools[k] or list(range(len(_BUILDINGS)))
            pick = rng.choices(pool, [_BUILDING_WEIGHTS[i] for i in pool])[0]
            pools[k] = [i for i in pool if i != pick]
            count = min(left, rng.choices((1, 2, 3), (55, 33, 12))[0])
            left -= count
            parts = rng.choice(_PARTS[count]) if count > 1 else (("", ""),)
            lat, lon = _near(rng, panchayat.centre, sigma)
            facilities = (self._facility(0.93), self._facility(0.86), self._facility(0.72))
            buildings.append(
                _Building(
                    k, _BUILDINGS[pick], places[k], parts, _coordinate(lat), _coordinate(lon), facilities
                )
            )
        return sorted(buildings, key=lambda b: b.place)

    def _facility(self, chance: float) -> bool | None:
        roll = self.rng.random()
        return None if roll < 0.02 else roll < chance  # a few unknown

    def _electors(self, parts: int) -> list[tuple[int, int]]:
        """Serial ranges of one roll part split over ``parts`` booths (the main one first)."""
        total = self.rng.randint(*{1: (350, 1000), 2: (1001, 1600), 3: (1601, 2200)}[parts])
        bounds = [round(total * k / parts) for k in range(parts + 1)]
        return [(bounds[k] + 1, bounds[k + 1]) for k in range(parts)]
