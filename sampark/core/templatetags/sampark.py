from django import template

from sampark.core.numbers import group_indian

register = template.Library()


@register.filter
def indian(value: object) -> str:
    """``{{ n|indian }}`` → 1,06,519."""
    try:
        return group_indian(value)  # type: ignore[arg-type]
    except (ValueError, ArithmeticError):
        return str(value)
