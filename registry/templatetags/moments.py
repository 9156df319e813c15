"""One way to show a moment on every page: day, month, year, time and zone, in the installation's
time zone, with the exact instant for machines (``<time datetime>``) and as a tooltip."""

from django import template
from django.utils import dateformat, timezone
from django.utils.html import format_html

register = template.Library()


def _local(value):
    return timezone.localtime(value) if timezone.is_aware(value) else value


@register.filter
def when_text(value, precision: str = "minutes") -> str:
    """Plain text, for e-mail: "6 Dec 2026, 11:02 UTC"."""
    if not value:
        return ""
    return dateformat.format(_local(value), "j M Y, H:i:s T" if precision == "seconds" else "j M Y, H:i T")


@register.filter
def when(value, precision: str = "minutes"):
    """``{{ event.created_at|when }}`` → "6 Dec 2026, 11:02 UTC"; ``|when:"seconds"`` adds them."""
    if not value:
        return ""
    local = _local(value)
    return format_html('<time datetime="{}" title="{}">{}</time>', local.isoformat(), local.isoformat(),
                       when_text(value, precision))  # fmt: skip
