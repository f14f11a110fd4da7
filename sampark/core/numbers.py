"""Indian digit grouping: 1,06,519 (lakh) and 1,00,00,000 (crore)."""

from __future__ import annotations

from decimal import Decimal


def group_indian(value: int | float | Decimal | str | None) -> str:
    """Format a number with Indian grouping; the last three digits, then pairs. ``None`` gives ``""``."""
    if value is None or value == "":
        return ""
    number = Decimal(str(value))
    sign = "-" if number < 0 else ""
    text = f"{abs(number):f}"
    whole, _, fraction = text.partition(".")
    if len(whole) > 3:
        head, tail = whole[:-3], whole[-3:]
        pairs: list[str] = []
        while len(head) > 2:
            pairs.insert(0, head[-2:])
            head = head[:-2]
        if head:
            pairs.insert(0, head)
        whole = ",".join([*pairs, tail])
    return f"{sign}{whole}.{fraction}" if fraction else f"{sign}{whole}"
