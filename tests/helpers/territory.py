"""A small Bihar territory (two districts, three ACs, three blocks, four panchayats, eleven booths), the
shared set-up of the web, people, feed, messaging and admin tests (fixture ``bihar`` in conftest)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sampark.territory.models import (
    AssemblyConstituency,
    Block,
    Booth,
    CoordinateQuality,
    District,
    Panchayat,
    ParliamentaryConstituency,
    State,
)


@dataclass
class Tree:
    """A small Bihar: two districts, three ACs, three blocks (one without an LGD code), four panchayats.

    Booths (main / auxiliary):
      AC 1 Valmiki Nagar (Pashchim Champaran): 1-1, 1-2, 1-2A (aux), 1-3 in Bagaha-1; 1-4 in no block.
      AC 2 Ramnagar (SC, Pashchim Champaran): 2-1, 2-1A (aux), 2-2 in Ramnagar block / Dhumatand.
      AC 181 Patna Sahib (Patna): 181-1, 181-2, 181-2A (aux) in Patna Sadar / Sabalpur.
    """

    state: State
    champaran: District
    patna: District
    valmiki_nagar: AssemblyConstituency
    ramnagar: AssemblyConstituency
    patna_sahib: AssemblyConstituency
    bagaha: Block
    ramnagar_block: Block
    patna_sadar: Block
    harnatand: Panchayat
    naurangia: Panchayat
    dhumatand: Panchayat
    sabalpur: Panchayat
    booth: Booth  # 1-2: Harnatand, with coordinates and facilities


def build_bihar() -> Tree:
    state = State.objects.create(lgd_code=10, name_en="Bihar", name_hi="बिहार", eci_code="S04")
    champaran = District.objects.create(
        state=state, lgd_code=231, name_en="Pashchim Champaran", name_hi="पश्चिम चंपारण", ceo_number=1
    )
    patna = District.objects.create(state=state, lgd_code=230, name_en="Patna", name_hi="पटना", ceo_number=28)
    pc = ParliamentaryConstituency.objects.create(
        state=state, number=1, name_en="Valmiki Nagar", name_hi="वाल्मीकि नगर"
    )
    valmiki_nagar = AssemblyConstituency.objects.create(
        state=state, district=champaran, pc=pc, number=1, name_en="Valmiki Nagar", name_hi="वाल्मीकि नगर"
    )
    ramnagar = AssemblyConstituency.objects.create(
        state=state,
        district=champaran,
        pc=pc,
        number=2,
        name_en="Ramnagar",
        name_hi="रामनगर",
        reservation="SC",
    )
    patna_sahib = AssemblyConstituency.objects.create(
        state=state, district=patna, number=181, name_en="Patna Sahib", name_hi="पटना साहिब"
    )
    bagaha = Block.objects.create(district=champaran, lgd_code=1001, name_en="Bagaha-1", name_hi="बगहा-1")
    ramnagar_block = Block.objects.create(
        district=champaran, lgd_code=None, name_en="Ramnagar", name_hi="रामनगर"
    )
    patna_sadar = Block.objects.create(
        district=patna, lgd_code=1010, name_en="Patna Sadar", name_hi="पटना सदर"
    )
    harnatand = Panchayat.objects.create(
        district=champaran, block=bagaha, lgd_code=5001, name_en="Harnatand", name_hi="हरनाटांड़"
    )
    naurangia = Panchayat.objects.create(
        district=champaran, block=bagaha, name_en="Naurangia", name_hi="नौरंगिया"
    )
    dhumatand = Panchayat.objects.create(
        district=champaran, block=ramnagar_block, name_en="Dhumatand", name_hi="धुमटांड़"
    )
    sabalpur = Panchayat.objects.create(
        district=patna, block=patna_sadar, name_en="Sabalpur", name_hi="सबलपुर"
    )

    def booth(ac, number, suffix="", *, block=None, panchayat=None, name="", name_hi="", **extra):
        return Booth.objects.create(
            state=state,
            district=ac.district,
            ac=ac,
            block=block,
            panchayat=panchayat,
            number=number,
            suffix=suffix,
            code=Booth.make_code(ac.number, number, suffix),
            kind=Booth.Kind.AUXILIARY if suffix else Booth.Kind.MAIN,
            name=name or f"Primary School {number}{suffix}",
            name_hi=name_hi or f"प्राथमिक विद्यालय {number}{suffix}",
            **extra,
        )

    booth(valmiki_nagar, 1, block=bagaha, panchayat=harnatand, name="Middle School Harnatand",
          name_hi="मध्य विद्यालय हरनाटांड़")  # fmt: skip
    detailed = booth(
        valmiki_nagar, 2, block=bagaha, panchayat=harnatand, name="Panchayat Bhawan Harnatand",
        name_hi="पंचायत भवन हरनाटांड़", latitude=Decimal("27.153210"), longitude=Decimal("84.082100"),
        coordinate_quality=CoordinateQuality.DMS, coordinate_raw="27°09'11.6\"N 84°04'55.6\"E",
        electricity=True, toilet=False, ramp=None, elector_from=1, elector_to=1234,
        source="Bihar/AC001.csv:3",
    )  # fmt: skip
    booth(valmiki_nagar, 2, "A", block=bagaha, panchayat=harnatand, name="Panchayat Bhawan Harnatand (Aux)",
          name_hi="पंचायत भवन हरनाटांड़ (सहायक)")  # fmt: skip
    booth(valmiki_nagar, 3, block=bagaha, panchayat=naurangia, name="Kanya Vidyalaya Naurangia",
          name_hi="कन्या विद्यालय नौरंगिया")  # fmt: skip
    booth(valmiki_nagar, 4, name="Community Hall Valmiki Nagar", name_hi="सामुदायिक भवन वाल्मीकि नगर")
    booth(ramnagar, 1, block=ramnagar_block, panchayat=dhumatand)
    booth(ramnagar, 1, "A", block=ramnagar_block, panchayat=dhumatand)
    booth(ramnagar, 2, block=ramnagar_block, panchayat=dhumatand)
    booth(patna_sahib, 1, block=patna_sadar, panchayat=sabalpur)
    booth(patna_sahib, 2, block=patna_sadar, panchayat=sabalpur)
    booth(patna_sahib, 2, "A", block=patna_sadar, panchayat=sabalpur)
    return Tree(
        state=state,
        champaran=champaran,
        patna=patna,
        valmiki_nagar=valmiki_nagar,
        ramnagar=ramnagar,
        patna_sahib=patna_sahib,
        bagaha=bagaha,
        ramnagar_block=ramnagar_block,
        patna_sadar=patna_sadar,
        harnatand=harnatand,
        naurangia=naurangia,
        dhumatand=dhumatand,
        sabalpur=sabalpur,
        booth=detailed,
    )
