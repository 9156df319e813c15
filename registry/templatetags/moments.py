"""One way to show a moment on every page: day, month, year, time and zone, in the installation's
time zone, with the exact instant for machines (``<time datetime>``) and as a tooltip."""

from django import template
from django.utils import dateformat, timezone
from django.utils.html import format_html

register = template.Library()


@register.filter
def when(value, precision: str = "minutes"):
    """``{{ event.created_at|when }}`` → "6 Dec 2026, 11:02 UTC"; ``|when:"seconds"`` adds them."""
    if not value:
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    shown = dateformat.format(local, "j M Y, H:i:s T" if precision == "seconds" else "j M Y, H:i T")
    return format_html('<time datetime="{}" title="{}">{}</time>', local.isoformat(), local.isoformat(), shown)
