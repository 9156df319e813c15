"""Server-rendered SVG charts for the comparison pages: no client-side chart library, no CDN.

Each chart has a title and a description for screen readers; the page puts the same points in
a data table beside it.
"""

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

register = template.Library()

SIZE, MARGIN = 300, 36
PLOT = SIZE - 2 * MARGIN
CHARTS = {
    "roc_curve": ("ROC curve", "False positive rate", "True positive rate", True),
    "pr_curve": ("Precision–recall curve", "Recall", "Precision", False),
    "calibration": ("Calibration", "Predicted probability", "Observed frequency", True),
}


def points_of(kind: str, data) -> list[tuple[float, float]]:
    """The (x, y) points of one version's curve, whatever the kind's stored shape."""
    if not data:
        return []
    if kind == "calibration":
        pairs = ((b.get("predicted"), b.get("observed")) for b in data)
        return [(x, y) for x, y in pairs if x is not None and y is not None]
    return [(float(x), float(y)) for x, y in data]


def _xy(x: float, y: float) -> str:
    return f"{MARGIN + x * PLOT:.1f},{MARGIN + (1 - y) * PLOT:.1f}"


@register.simple_tag
def curve_chart(kind: str, curves: list, numbers: list) -> str:
    """One SVG with each version's ``kind`` curve overlaid (series classes follow column order)."""
    title, x_label, y_label, diagonal = CHARTS[kind]
    series = [
        (index, number, points_of(kind, data)) for index, (number, data) in enumerate(zip(numbers, curves, strict=True))
    ]
    drawn = [(index, number, points) for index, number, points in series if points]
    described = ", ".join(f"v{number}" for _, number, _ in drawn) or "no version measured"
    grid = format_html_join(
        "",
        '<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" class="grid"/>'
        '<line x1="{1}" y1="{3}" x2="{4}" y2="{3}" class="grid"/>'
        '<text x="{0}" y="{5}" class="tick">{6}</text><text x="{7}" y="{8}" class="tick">{6}</text>',
        (
            (
                f"{MARGIN + t * PLOT:.1f}", MARGIN, MARGIN + PLOT, f"{MARGIN + (1 - t) * PLOT:.1f}", MARGIN + PLOT,
                MARGIN + PLOT + 14, f"{t:g}", MARGIN - 6, f"{MARGIN + (1 - t) * PLOT + 4:.1f}",
            )
            for t in (0, 0.5, 1)
        ),
    )  # fmt: skip
    lines = format_html_join(
        "",
        '<polyline class="series series-{}" points="{}"><title>v{}</title></polyline>',
        ((index, " ".join(_xy(x, y) for x, y in points), number) for index, number, points in drawn),
    )
    line = '<line x1="{}" y1="{}" x2="{}" y2="{}" class="reference"/>'
    reference = format_html(line, *_xy(0, 0).split(","), *_xy(1, 1).split(",")) if diagonal else ""
    return format_html(
        '<svg class="chart" viewBox="0 0 {size} {size}" role="img" aria-labelledby="{kind}-title {kind}-desc">'
        '<title id="{kind}-title">{title}</title><desc id="{kind}-desc">{title} of {described}; '
        "the data table below lists the points.</desc>{grid}{reference}{lines}"
        '<text x="{mid}" y="{bottom}" class="axis">{x_label}</text>'
        '<text x="12" y="{mid}" class="axis" transform="rotate(-90 12 {mid})">{y_label}</text></svg>',
        size=SIZE, kind=kind, title=title, described=described, grid=grid, reference=reference, lines=lines,
        mid=SIZE // 2, bottom=SIZE - 4, x_label=x_label, y_label=y_label,
    )  # fmt: skip


@register.filter
def at(sequence, index: int):
    """``sequence[index]`` in templates (columns aligned with the compared versions)."""
    try:
        return sequence[index]
    except (IndexError, KeyError, TypeError):
        return None


TREND_WIDTH, TREND_HEIGHT, TREND_PAD = 260, 70, 8


@register.simple_tag
def trend_chart(name: str, points: list) -> str:
    """A small line chart of one metric across versions: measured (solid) and reported (dashed)."""
    values = [p[key] for p in points for key in ("reported", "measured") if isinstance(p.get(key), int | float)]
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = (TREND_WIDTH - 2 * TREND_PAD) / max(len(points) - 1, 1)

    def xy(index, value):
        y = TREND_HEIGHT - TREND_PAD - (value - low) / span * (TREND_HEIGHT - 2 * TREND_PAD)
        return f"{TREND_PAD + index * step:.1f},{y:.1f}"

    lines = []
    for key, css in (("reported", "series series-1"), ("measured", "series series-0")):
        drawn = [xy(i, p[key]) for i, p in enumerate(points) if isinstance(p.get(key), int | float)]
        if drawn:
            lines.append(
                format_html('<polyline class="{}" points="{}"><title>{}</title></polyline>', css, " ".join(drawn), key)
            )
    first, last = points[0]["version"], points[-1]["version"]
    return format_html(
        '<svg class="trend" viewBox="0 0 {w} {h}" role="img" aria-label="{name} from v{first} to v{last}: '
        'from {low} to {high}">{lines}</svg>',
        w=TREND_WIDTH, h=TREND_HEIGHT, name=name, first=first, last=last, low=f"{low:.3f}", high=f"{high:.3f}",
        lines=format_html_join("", "{}", ((line,) for line in lines)),
    )  # fmt: skip


def _number(value, digits: int = 4) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def delta_html(cell: dict) -> str:
    """ "+0.0123 (+2%) better" for a metric cell against the baseline (the word for screen readers)."""
    if cell.get("delta") is None:
        return "—"
    relative = cell.get("relative_delta")
    percent = (
        format_html(' <span class="small">({}{}%)</span>', "+" if relative > 0 else "", f"{relative * 100:.0f}")
        if relative is not None
        else ""
    )
    word = {True: " better", False: " worse"}.get(cell.get("better"), "")
    return format_html(
        '{}{}{}{}', "+" if cell["delta"] > 0 else "", f"{cell['delta']:.4f}", percent,
        format_html('<span class="sr-only">{}</span>', word) if word else "",
    )  # fmt: skip


REPORTED_BADGE = mark_safe(' <span class="badge reported">reported</span>')  # noqa: S308 (a constant)


@register.simple_tag
def metric_cell(cell: dict, index: int, baseline_index: int, gate, reported: bool = False) -> str:
    """One version's cell of the comparison's metric table: the value used, measured / reported,
    the delta against the baseline and the gate's verdict. ``reported``: the author's figure
    alone (the toggle), without delta or verdict, which read the figures used."""
    if reported:
        return format_html(
            '<td class="num" title="measured {} · reported {}">{}</td>',
            _number(cell.get("measured")), _number(cell.get("reported")), _number(cell.get("reported")),
        )  # fmt: skip
    css = {True: "num better", False: "num worse"}.get(cell.get("better"), "num")
    verdict = ""
    if gate and cell.get("gate_passed") is not None:
        verdict = format_html(
            '<span class="badge status-{}">{}</span>',
            *(("passed", "pass") if cell["gate_passed"] else ("failed", "fail")),
        )
    reported_only = cell.get("measured") is None and cell.get("reported") is not None
    return format_html(
        '<td class="{}" title="measured {} · reported {}"><strong>{}</strong>{}{}{}</td>',
        css, _number(cell.get("measured")), _number(cell.get("reported")), _number(cell.get("value")),
        REPORTED_BADGE if reported_only else "",
        "" if index == baseline_index else format_html('<div class="small">{}</div>', delta_html(cell)), verdict,
    )  # fmt: skip


@register.filter
def points_text(data, kind: str) -> str:
    """A curve's points as text for the data table beside its chart."""
    points = points_of(kind, data)
    return " ".join(f"({x:.3f}, {y:.3f})" for x, y in points) if points else "not measured"
