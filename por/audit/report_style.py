"""The look of por's HTML reports, in one place: the audit report, the history page and any
statement written in their layout (e.g. a Japanese segregation statement) share it.

- `report_page(title, body, lang=...)`: the whole self-contained document (inline CSS, no
  script, no network), mobile-first, with the CJK fallback fonts named and `lang` set.
- `amount_html(value, unit)`: an amount as people read it (thousands separators, trailing
  zeros trimmed, at most 8 decimals shown) with the exact value kept in its `title`.
- `label(en, ja, lang)`: a label in both languages, the page's language first; `card(...)` a
  section with such a heading.
- `table_html(columns, rows)`: a table that turns into one card per row on a phone, so no
  cell is ever cut off or scrolled sideways.
- `bar_chart` / `line_chart`: dependency-free SVG with axes, units, `<title>` and `<desc>`.
  Horizontal positions are percentages of the chart's width and text is in CSS pixels, so a
  chart fills any width without shrinking its labels.

Every value that came from an input passes through `por.text.html_text` here or in the caller.
Amounts arrive as decimal strings and are only ever re-spelled, never computed with floats.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from fractions import Fraction

from por.text import html_text

FONT_STACK = '"Noto Sans CJK JP", "Hiragino Sans", "Yu Gothic", sans-serif'
MONO_STACK = 'ui-monospace, "Noto Sans Mono CJK JP", "DejaVu Sans Mono", monospace'
LANGUAGES = ("en", "ja")
SHOWN_DECIMALS = 8  # more than this is folded into the amount's title (hover) and marked "…"
CSP = "default-src 'none'; style-src 'unsafe-inline'"

_DECIMAL_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")

CSS = """
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;background:#f4f6f8;color:#17202a;font:15px/1.5 FONT;overflow-wrap:break-word}
main{max-width:1180px;margin:0 auto;padding:10px}
header.top{background:#0f1f3d;color:#fff;padding:14px 12px}
header.top h1{margin:0;font-size:19px;line-height:1.3} header.top p{margin:2px 0 0;color:#c8d3e6;font-size:13.5px}
.card{background:#fff;border:1px solid #dfe3e8;border-radius:10px;padding:12px;margin:0 0 12px;min-width:0}
h2{font-size:17px;line-height:1.3;margin:0 0 10px} h2>.alt,th .alt,figcaption .alt{display:block}
h2 .sub{display:block;font-size:15px;font-weight:600;margin-top:2px}
.alt{color:#5b6673;font-weight:400;font-size:.86em}
.verdict{border-radius:10px;padding:12px 14px;margin:0 0 12px;color:#fff}
.verdict.pass{background:#1f7a4d}.verdict.fail{background:#b42318}.verdict.warn{background:#8a4b00}
.verdict h1{margin:0;font-size:26px;line-height:1.2;letter-spacing:.3px}
.verdict .alt,.verdict .unit{color:#fff;opacity:.88}
.verdict p{margin:2px 0 0;font-size:14px}
.verdict ol{margin:8px 0 0;padding:0;list-style:none}
.verdict li{padding:5px 0;border-top:1px solid rgba(255,255,255,.28);font-size:14px;line-height:1.35}
.verdict li b{font-weight:700}
.verdict .short{font-weight:700}
.verdict details{margin-top:6px;font-size:13px} .verdict summary{cursor:pointer}
.verdict a{color:#fff}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{padding:6px 8px;border-bottom:1px solid #eef0f3;text-align:left;vertical-align:top}
th{font-size:12.5px;color:#3d4754;font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums}
.amt.more{border-bottom:1px dotted #8a94a3;cursor:help}
.unit{color:#5b6673;font-size:.88em;margin-left:.25em}
.ok{color:#12733d;font-weight:600}.bad{color:#b42318;font-weight:600}.flag{color:#8a4b00}
tr.fail td{background:#fdf1f0}
tr.detail td{padding-top:0;color:#5b6673;font-size:13px}
tr.has-detail td{border-bottom:0}
.rid{font-family:MONO;font-size:11.5px;color:#5b6673}
.mono{font-family:MONO;font-size:12.5px;word-break:break-all}
.brk{overflow-wrap:anywhere}
.meta{display:grid;grid-template-columns:minmax(0,max-content) minmax(0,1fr);gap:4px 14px;font-size:14px}
.note{color:#5b6673;font-size:13.5px}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:13px;margin:0 0 6px}
.sw{display:inline-block;width:11px;height:11px;margin-right:5px;vertical-align:-1px;border-radius:2px}
figure{margin:0 0 14px} figcaption{font-weight:600;font-size:14px;margin:0 0 4px}
svg.chart{display:block;width:100%;overflow:visible;font-family:FONT}
svg.chart text{font-size:12.5px;fill:#3d4754} svg.chart text.axis-label{font-size:12px;fill:#5b6673}
svg.chart text.val{paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round;font-weight:600}
svg.chart .grid{stroke:#e3e6eb} svg.chart .axis{stroke:#8a94a3} svg.chart .ref{stroke:#17202a;stroke-dasharray:4 3}
.grid2{display:grid;grid-template-columns:minmax(0,1fr);gap:0 20px}
@media (min-width:700px){
 main{padding:18px} header.top{padding:18px 24px} .card{padding:16px 20px}
 .grid2{grid-template-columns:repeat(2,minmax(0,1fr))}
 .amt,.res{white-space:nowrap}
}
""".replace("MONO", MONO_STACK).replace("FONT", FONT_STACK)

# Below these widths a table is a stack of cards, one per row: `wide` tables (many columns) sooner.
_CARDS = """
@media (max-width:WIDTHpx){
 T thead{display:none}
 T,T tbody,T tr,T td{display:block;width:100%}
 T tr{border:1px solid #e3e6eb;border-radius:8px;margin:0 0 8px;padding:4px 10px}
 T td{display:flex;flex-wrap:wrap;justify-content:space-between;gap:0 12px;border:0;padding:3px 0;
  text-align:right;min-width:0;overflow-wrap:anywhere}
 T td::before{content:attr(data-label);font-weight:600;color:#3d4754;text-align:left;font-size:12.5px}
 T td>*{min-width:0;margin-left:auto}
 T .amt{white-space:normal}
 T tr.has-detail{border-bottom:0;border-radius:8px 8px 0 0;margin:0;padding-bottom:0}
 T tr.detail{border-top:0;border-radius:0 0 8px 8px;margin-top:0}
 T tr.detail td{display:block;text-align:left}
}"""
CSS += _CARDS.replace("WIDTH", "699").replace("T", "table.cards") + _CARDS.replace("WIDTH", "1023").replace(
    "T", "table.cards.wide"
)


def report_page(title: str, body: str, *, lang: str = "en", css: str = "") -> str:
    """A whole report page around `body` (already-escaped HTML): one file, no script, no network.

    `title` is plain text (escaped here); `css` adds rules after the shared stylesheet."""
    lang = check_lang(lang)
    return (
        "<!doctype html>\n"
        f"<html lang='{lang}'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{html_text(title)}</title><style>{CSS}{css}</style></head><body>{body}</body></html>\n"
    )


def card(title_en: str, title_ja: str, inner: str, *, lang: str = "en", ident: str = "") -> str:
    """One section of a report: a white card with its heading in both languages around `inner` (HTML)."""
    attr = f" id='{html_text(ident)}'" if ident else ""
    return f"<section class='card'{attr}><h2>{label(title_en, title_ja, lang)}</h2>{inner}</section>"


def check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"report language must be one of {', '.join(LANGUAGES)}, not {lang!r}")
    return lang


def label(en: str, ja: str, lang: str = "en", *, both: bool = True) -> str:
    """Trusted label text in the page's language first, the other one after it (`alt`, own `lang`)."""
    first, second = ((en, "en"), (ja, "ja")) if lang == "en" else ((ja, "ja"), (en, "en"))
    out = f"<span lang='{first[1]}'>{html_text(first[0])}</span>"
    if both and second[0]:
        out += f" <span class='alt' lang='{second[1]}'>{html_text(second[0])}</span>"
    return out


def plain(en: str, ja: str, lang: str = "en") -> str:
    """Both languages as one plain string (for attributes such as a card cell's label)."""
    return f"{en} / {ja}" if lang == "en" else f"{ja} / {en}"


# --- amounts -------------------------------------------------------------------------------------------------


def is_decimal(value: object) -> bool:
    return isinstance(value, str) and bool(_DECIMAL_RE.match(value))


def grouped(text: str, places: int = SHOWN_DECIMALS) -> tuple[str, bool]:
    """'1234567.120000000000000001' -> ('1,234,567.12', True): thousands marked, trailing zeros
    trimmed, at most `places` decimals (cut, never rounded up) but always one significant digit of
    a non-zero amount. The flag says digits were left out. Text that is not a decimal comes back as is."""
    if not is_decimal(text):
        return text, False
    sign, body = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _, frac = body.partition(".")
    frac = frac.rstrip("0")
    keep = places
    if int(whole) == 0 and frac and not frac[:places].strip("0"):
        keep = len(frac) - len(frac.lstrip("0")) + 1  # 0.000000000000000001: show the one digit
    shown = frac[:keep]
    cut = len(frac) > len(shown)
    shown = shown.rstrip("0")
    return f"{sign}{int(whole):,}" + (f".{shown}" if shown else ""), cut


def amount_html(value: object, unit: str | None = None, *, places: int = SHOWN_DECIMALS, show_unit: bool = True) -> str:
    """An amount for a report: readable on the page, exact (with its unit) in its title. None shows
    as a dash. `show_unit=False` when a column or row already names the unit."""
    if value is None or value == "":
        return "<span class='amt'>—</span>"
    text = str(value)
    shown, cut = grouped(text, places)
    exact = text + (f" {unit}" if unit else "")
    unit_html = f"<span class='unit'>{html_text(unit)}</span>" if unit and show_unit else ""
    more = " more" if cut else ""
    body = html_text(shown)
    return f"<span class='amt{more}' title='{html_text(exact)}'>{body}{'…' if cut else ''}{unit_html}</span>"


def decimal_of(value: object) -> Decimal | None:
    """A decimal string as an exact Decimal (None when it is not one)."""
    if not is_decimal(value):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def difference(required: object, actual: object) -> str | None:
    """required - actual as canonical decimal text, exactly (None when either is not a decimal)."""
    a, b = decimal_of(required), decimal_of(actual)
    if a is None or b is None:
        return None
    with localcontext() as ctx:
        ctx.prec = 200
        diff = a - b
    text = format(diff, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def coverage_text(ratio: object) -> str:
    """'12.023456' -> '1,202.34%', cut (never rounded up): a shown coverage never overstates."""
    value = decimal_of(ratio)
    if value is None:
        return "—"
    with localcontext() as ctx:
        ctx.prec = 200
        hundredths = int((value * 10000).to_integral_value(rounding="ROUND_FLOOR"))
    whole, frac = divmod(hundredths, 100)
    return f"{whole:,}.{frac:02d}%"


# --- tables --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    head: str  # trusted HTML for the header
    card_label: str  # plain text shown before the value when the table is a card (phone)
    numeric: bool = False


def table_html(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    row_classes: Sequence[str] = (),
    details: Sequence[str] = (),
    caption: str = "",
    wide: bool = False,
) -> str:
    """Rows of trusted cell HTML. On a phone each row becomes a card of `label: value` lines
    (a `wide` table, one with many columns, already below 1024 px).

    `details[i]`, when not empty, is a line of text under row i across the whole table (a reason)."""
    head = "".join(f"<th scope='col'{' class=num' if c.numeric else ''}>{c.head}</th>" for c in columns)
    body = []
    for i, row in enumerate(rows):
        cls = row_classes[i] if i < len(row_classes) and row_classes[i] else ""
        cells = "".join(
            f"<td data-label='{html_text(c.card_label)}'{' class=num' if c.numeric else ''}>"
            f"<div class='v'>{cell}</div></td>"
            for c, cell in zip(columns, row)
        )  # one item per card line
        detail = details[i] if i < len(details) else ""
        if detail:
            cls = f"{cls} has-detail".strip()
        attr = f" class='{cls}'" if cls else ""
        body.append(f"<tr{attr}>{cells}</tr>")
        if detail:
            body.append(
                f"<tr class='detail{' fail' if 'fail' in cls.split() else ''}'>"
                f"<td colspan='{len(columns)}' data-label=''>{detail}</td></tr>"
            )
    cap = f"<caption class='note'>{caption}</caption>" if caption else ""
    classes = "cards wide" if wide else "cards"
    return f"<table class='{classes}'>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


# --- charts --------------------------------------------------------------------------------------------------

PALETTE = ("#1f4fd1", "#e0892b", "#12733d", "#7b5ea7", "#b42318", "#0f8a9d", "#8a4b00", "#c2417d")
_LEFT, _RIGHT = 2.0, 97.0  # the plot's horizontal extent, in % of the chart's width


@dataclass(frozen=True)
class Bar:
    name: str  # plain text (escaped here)
    segments: Sequence[tuple[Fraction, str, str]]  # (length on the axis, colour, tooltip text)
    value_text: str = ""  # shown after the bar


def percent_tick(value: Fraction) -> str:
    """A tick on a ratio axis: Fraction(5, 4) -> '125%'."""
    hundred = value * 100
    return f"{hundred.numerator // hundred.denominator:,}%" if hundred.denominator == 1 else f"{float(hundred):.1f}%"


def _pct(x: Fraction | float) -> str:
    return f"{float(x):.3f}%"


def nice_step(top: Fraction, ticks: int = 4) -> Fraction:
    """A 1-2-5 step so that about `ticks` steps reach `top` (exact fractions, no float drift)."""
    if top <= 0:
        return Fraction(1)
    raw = top / ticks
    step = Fraction(1)
    while step > raw:
        step /= 10
    while step * 10 <= raw:
        step *= 10
    for m in (1, 2, 5, 10):
        if step * m >= raw:
            return step * m
    return step * 10


def _svg_open(title: str, desc: str, height: int, ident: str) -> str:
    return (
        f"<svg class='chart' role='img' aria-labelledby='{ident}-t {ident}-d' aria-label='{html_text(title)}' "
        f"width='100%' height='{height}'>"
        f"<title id='{ident}-t'>{html_text(title)}</title><desc id='{ident}-d'>{html_text(desc)}</desc>"
    )


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    desc: str,
    axis_label: str,
    ident: str,
    axis_max: Fraction,
    tick_text: Callable[[Fraction], str],
    reference: Fraction | None = None,
    reference_text: str = "",
    aria_label: str | None = None,
    keep_zero: bool = False,
) -> str:
    """Horizontal bars on a labelled axis from 0 to `axis_max`; `tick_text(value)` spells a tick.

    `keep_zero` draws a sliver for a zero bar (so every bar has its rect). Each bar's name sits
    on its own line above it, so a long name never pushes the bars off a phone."""
    row_h, bar_h, top = 44, 16, 4
    axis_y = top + row_h * len(bars) + 4
    height = axis_y + 40
    span = _RIGHT - _LEFT - 18  # room after the longest bar for its value text
    scale = lambda v: _LEFT + span * float(min(max(v, 0), axis_max) / axis_max)  # noqa: E731
    parts = [_svg_open(aria_label or title, desc, height, ident)]
    step = nice_step(axis_max)
    tick = Fraction(0)
    while tick <= axis_max:
        x = _pct(scale(tick))
        anchor = "start" if tick == 0 else "middle"
        parts.append(
            f"<line class='grid' x1='{x}' x2='{x}' y1='{top}' y2='{axis_y}'/>"
            f"<text x='{x}' y='{axis_y + 16}' text-anchor='{anchor}'>{html_text(tick_text(tick))}</text>"
        )
        tick += step
    for i, bar in enumerate(bars):
        y = top + i * row_h
        parts.append(f"<text x='{_pct(_LEFT)}' y='{y + 13}' font-weight='600'>{html_text(bar.name)}</text>")
        start = Fraction(0)
        for length, colour, tip in bar.segments:
            if length <= 0 and not keep_zero:
                continue
            x0, x1 = scale(start), scale(start + length)
            parts.append(
                f"<rect x='{_pct(x0)}' y='{y + 20}' width='{_pct(max(x1 - x0, 0.3))}' height='{bar_h}' "
                f"fill='{colour}' rx='2'><title>{html_text(tip)}</title></rect>"
            )
            start += length
        if bar.value_text:
            parts.append(
                f"<text x='{_pct(scale(start))}' dx='6' y='{y + 33}' class='val'>{html_text(bar.value_text)}</text>"
            )
    parts.append(f"<line class='axis' x1='{_pct(_LEFT)}' x2='{_pct(_LEFT + span)}' y1='{axis_y}' y2='{axis_y}'/>")
    if reference is not None:
        x = _pct(scale(reference))
        parts.append(
            f"<line class='ref' x1='{x}' x2='{x}' y1='{top}' y2='{axis_y}'/>"
            f"<text x='{x}' dx='4' y='{top + 10}' class='axis-label'>{html_text(reference_text)}</text>"
        )
    parts.append(f"<text x='{_pct(_LEFT)}' y='{height - 4}' class='axis-label'>{html_text(axis_label)}</text></svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    values: Sequence[Fraction | None]  # one per x position; None = not known (a gap)
    tips: Sequence[str]  # tooltip per point


@dataclass(frozen=True)
class _Frame:
    """Where a line chart draws: the plot's top and height, the y range, the x position of each period."""

    top: int
    plot_h: int
    y_min: Fraction
    y_top: Fraction
    xs: list[float]

    @property
    def base(self) -> int:
        return self.top + self.plot_h

    def y(self, value: Fraction) -> Fraction:
        return self.base - (self.plot_h * (value - self.y_min)) / (self.y_top - self.y_min)


def line_chart(
    series: Sequence[Series],
    x_labels: Sequence[str],
    *,
    title: str,
    desc: str,
    y_label: str,
    x_label: str,
    ident: str,
    y_text: Callable[[Fraction], str],
    y_min: Fraction = Fraction(0),
    y_max: Fraction | None = None,
    reference: Fraction | None = None,
    reference_text: str = "",
    missing_text: str = "",
) -> str:
    """Lines over periods on labelled axes. The y ticks sit on their grid lines at the left, so the
    plot keeps the whole width; x labels are thinned to at most one per ~90 px of a 320 px phone."""
    n = len(x_labels)
    known = [v for s in series for v in s.values if v is not None]
    high = max(known + ([reference] if reference is not None else []) + [y_min], default=Fraction(1))
    high = y_max if y_max is not None else high
    step = nice_step(high - y_min if high > y_min else Fraction(1))
    y_top = y_min + step * max(1, -(-(high - y_min) // step))
    xs = [(_LEFT + 3 + (_RIGHT - _LEFT - 6) * i / (n - 1)) if n > 1 else 50.0 for i in range(n)]
    frame = _Frame(36, 150, y_min, y_top, xs)
    height = frame.base + 52
    parts = [_svg_open(title, desc, height, ident)]
    parts += _y_grid(frame, step, y_text, reference, reference_text)
    parts += _x_axis(frame, x_labels, series, missing_text)
    for s in series:
        parts += _series_marks(frame, s)
    parts.append(
        f"<text x='{_pct(_LEFT)}' y='12' class='axis-label' font-weight='600'>{html_text(y_label)}</text>"
        f"<text x='{_pct(_RIGHT)}' y='{height - 4}' text-anchor='end' class='axis-label'>"
        f"{html_text(x_label)}</text></svg>"
    )
    return "".join(parts)


def _y_grid(
    frame: _Frame, step: Fraction, y_text: Callable[[Fraction], str], reference: Fraction | None, reference_text: str
) -> list[str]:
    """A grid line and its tick text every `step`, the x axis, and the reference line (100%) when in range."""
    parts = []
    tick = frame.y_min
    while tick <= frame.y_top:
        y = float(frame.y(tick))
        parts.append(
            f"<line class='grid' x1='{_pct(_LEFT)}' x2='{_pct(_RIGHT)}' y1='{y:.1f}' y2='{y:.1f}'/>"
            f"<text x='{_pct(_LEFT)}' y='{y - 3:.1f}' class='axis-label'>{html_text(y_text(tick))}</text>"
        )
        tick += step
    base = frame.base
    parts.append(f"<line class='axis' x1='{_pct(_LEFT)}' x2='{_pct(_RIGHT)}' y1='{base}' y2='{base}'/>")
    if reference is not None and frame.y_min <= reference <= frame.y_top:
        y = float(frame.y(reference))
        parts.append(
            f"<line class='ref' x1='{_pct(_LEFT)}' x2='{_pct(_RIGHT)}' y1='{y:.1f}' y2='{y:.1f}'/>"
            f"<text x='{_pct(_RIGHT)}' y='{y - 3:.1f}' text-anchor='end' class='axis-label'>"
            f"{html_text(reference_text)}</text>"
        )
    return parts


def _x_axis(frame: _Frame, x_labels: Sequence[str], series: Sequence[Series], missing_text: str) -> list[str]:
    """A tick per period, its label where there is room (the last always), "not known" where no line has a point."""
    n, base, parts = len(x_labels), frame.base, []
    every = max(1, -(-n * 90 // 320))
    anchor_at = lambda i: "middle" if n == 1 else "start" if i == 0 else "end" if i == n - 1 else "middle"  # noqa: E731
    for i, name in enumerate(x_labels):
        x = _pct(frame.xs[i])
        parts.append(f"<line class='axis' x1='{x}' x2='{x}' y1='{base}' y2='{base + 4}'/>")
        if i % every == 0 or i == n - 1:
            if i != n - 1 and n - 1 - i < every:
                continue  # the last label is always shown; skip a neighbour it would hit
            parts.append(f"<text x='{x}' y='{base + 18}' text-anchor='{anchor_at(i)}'>{html_text(name)}</text>")
        if missing_text and series and all(s.values[i] is None for s in series):
            parts.append(
                f"<text x='{x}' y='{base - 6}' text-anchor='{anchor_at(i)}' class='axis-label'>"
                f"{html_text(missing_text)}</text>"
            )
    return parts


def _series_marks(frame: _Frame, s: Series) -> list[str]:
    """One series: a segment between neighbouring known points (a gap where one is not known), then the points."""
    xs, parts = frame.xs, []
    prev: tuple[float, Fraction] | None = None  # the last known point: (x, value)
    for i, v in enumerate(s.values):
        if v is None:
            prev = None
            continue
        if prev is not None:
            parts.append(
                f"<line x1='{_pct(prev[0])}' y1='{float(frame.y(prev[1])):.1f}' x2='{_pct(xs[i])}' "
                f"y2='{float(frame.y(v)):.1f}' stroke='{s.colour}' stroke-width='2'/>"
            )
        prev = (xs[i], v)
    for i, v in enumerate(s.values):
        if v is not None:
            parts.append(
                f"<circle cx='{_pct(xs[i])}' cy='{float(frame.y(v)):.1f}' r='4' fill='{s.colour}'>"
                f"<title>{html_text(s.tips[i])}</title></circle>"
            )
    return parts
