"""`por history --html`: one self-contained page (inline CSS and SVG, no script,
no network) with the chain's verdict, the periods and a plot of totals over time.

Every value that came from an input file goes through `por.text.html_text`; plot
coordinates are computed with integers from the exact base-unit totals.
"""

from __future__ import annotations

from por.amounts import format_amount
from por.publication.history import ChainReport
from por.text import html_text

_W, _H, _LEFT, _TOP, _RIGHT, _BOTTOM = 640, 150, 14, 16, 14, 30
_STYLE = """\
body { margin: 0; background: #f4f6f8; color: #17202a; font: 15px/1.5 system-ui, sans-serif; }
header { background: #0f1f3d; color: #fff; padding: 18px 24px; } header h1 { margin: 0; font-size: 20px; }
header p { margin: 2px 0 0; color: #c8d3e6; font-size: 13.5px; }
main { max-width: 1000px; margin: 0 auto; padding: 20px; }
.card { background: #fff; border: 1px solid #dfe3e8; border-radius: 12px; padding: 16px 20px; margin-bottom: 16px; }
.verdict { font-size: 18px; font-weight: 650; padding: 12px 16px; border-radius: 10px; }
.verdict.ok { background: #e9f7ef; color: #12733d; } .verdict.bad { background: #fdeeed; color: #b42318; }
.verdict.warn { background: #fff6e5; color: #8a4b00; }
ul.findings li { color: #b42318; } ul.notes li { color: #8a4b00; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #dfe3e8; }
th { font-size: 12px; color: #5b6673; text-transform: uppercase; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.bad td { background: #fdeeed; } .mono { font-family: ui-monospace, monospace; font-size: 12.5px; }
td.link.broken, td.link.missing, td.sig.failed { color: #b42318; font-weight: 600; }
td.link.ok, td.sig.verified { color: #12733d; } td.sig.not-checked { color: #8a4b00; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 8px 20px; }
figure { margin: 0 0 8px; } figcaption { font-weight: 600; font-size: 13px; color: #5b6673; }
svg .axis { stroke: #b8c2cf; } svg .line { fill: none; stroke: #1f4fd1; stroke-width: 2; }
svg .dot { fill: #1f4fd1; } svg .dot.bad { fill: #b42318; }
svg .tick { font-size: 11px; fill: #5b6673; } svg .val { font-size: 11px; fill: #17202a; }
"""


def _series(report: ChainReport) -> dict[str, tuple[int, list[int | None]]]:
    """Per asset: (decimals, total per period in base units or None when the asset is absent)."""
    series: dict[str, tuple[int, list[int | None]]] = {}
    for i, period in enumerate(report.periods):
        for asset, total in zip(period.commitment.assets, period.commitment.totals):
            decimals, values = series.setdefault(asset.symbol, (asset.decimals, [None] * len(report.periods)))
            values[i] = total
    return dict(sorted(series.items()))


def _plot(symbol: str, decimals: int, values: list[int | None], labels: list[str], bad: list[bool]) -> str:
    n = len(values)
    top_value = max((v for v in values if v is not None), default=0) or 1
    inner_w, inner_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    xs = [_LEFT + (inner_w * i) // max(n - 1, 1) if n > 1 else _LEFT + inner_w // 2 for i in range(n)]
    ys = [None if v is None else _TOP + inner_h - (v * inner_h) // top_value for v in values]
    points = " ".join(f"{x},{y}" for x, y in zip(xs, ys) if y is not None)
    parts = [f'<svg viewBox="0 0 {_W} {_H}" width="100%" role="img" aria-label="{html_text(symbol)} total over time">',
             f'<line x1="{_LEFT}" y1="{_TOP + inner_h}" x2="{_W - _RIGHT}" y2="{_TOP + inner_h}" class="axis"/>',
             f'<polyline points="{points}" class="line"/>']
    for i, (x, y, v) in enumerate(zip(xs, ys, values)):
        anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
        parts.append(f'<text x="{x}" y="{_H - 10}" text-anchor="{anchor}" class="tick">{html_text(labels[i])}</text>')
        if y is None or v is None:
            continue
        amount = format_amount(v, decimals)
        parts.append(f'<circle cx="{x}" cy="{y}" r="4" class="{"dot bad" if bad[i] else "dot"}">'
                     f'<title>{html_text(labels[i])}: {html_text(amount)} {html_text(symbol)}</title></circle>')
        parts.append(f'<text x="{x}" y="{max(y - 8, 11)}" text-anchor="{anchor}" class="val">{html_text(amount)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _rows(report: ChainReport, series: dict[str, tuple[int, list[int | None]]], flagged: list[bool]) -> list[str]:
    """One table row a period: snapshot, time, leaves, each asset's total, link, signature, root."""
    rows = []
    for i, (p, s) in enumerate(zip(report.periods, report.status)):
        totals = {a.symbol: format_amount(v, a.decimals) for a, v in zip(p.commitment.assets, p.commitment.totals)}
        cells = "".join(f'<td class="num">{html_text(totals.get(sym, "–"))}</td>' for sym in series)
        sig = s.signature.state if s.signature else "not-checked"
        rows.append(f'<tr class="{"bad" if flagged[i] else ""}"><td>{html_text(p.commitment.snapshot_id)}</td>'
                    f'<td>{html_text(p.commitment.snapshot_time)}</td><td class="num">{html_text(p.commitment.leaf_count)}</td>'
                    f'{cells}<td class="link {html_text(s.link)}">{html_text(s.link)}</td><td class="sig {html_text(sig)}">'
                    f'{html_text(sig.replace("-", " "))}</td><td class="mono">{html_text(p.commitment.root.hex()[:16])}…</td></tr>')
    return rows


def render_history(report: ChainReport, *, signer: str | None) -> str:
    labels = [p.commitment.snapshot_id for p in report.periods]
    flagged = [p.place in report.flagged for p in report.periods]
    series = _series(report)
    rows = _rows(report, series, flagged)
    heads = "".join(f'<th class="num">{html_text(sym)}</th>' for sym in series)
    plots = "".join(f'<figure><figcaption>{html_text(sym)} total</figcaption>{_plot(sym, dec, vals, labels, flagged)}'
                    f'</figure>' for sym, (dec, vals) in series.items())
    findings = "".join(f"<li>{html_text(f)}</li>" for f in report.findings)
    notes = "".join(f"<li>{html_text(n)}</li>" for n in report.notes)
    verdict = {"verified": f'<div class="verdict ok">Chain verified: {len(report.periods)} periods</div>',
               "self-consistent": f'<div class="verdict warn">Chain not verified: {html_text(report.unanchored_reason)}'
                                  f'</div>',
               "failed": f'<div class="verdict bad">Chain not verified: {len(report.findings)} problem(s)</div>'
               }[report.state]
    exchange = report.periods[0].commitment.exchange if report.periods else ""
    key = f"signatures checked against pinned key {html_text(signer)}" if signer else "signatures not checked (no key pinned)"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Proof-of-reserves history: {html_text(exchange)}</title>
<style>
{_STYLE}</style></head><body>
<header><h1>Proof-of-reserves history: {html_text(exchange)}</h1><p>Chain of periodic commitments &middot; {key}</p></header>
<main>
<section class="card">{verdict}<ul class="findings">{findings}</ul><ul class="notes">{notes}</ul></section>
<section class="card"><table><thead><tr><th>Snapshot</th><th>Time</th><th class="num">Leaves</th>{heads}<th>Link</th>
<th>Signature</th><th>Root</th></tr></thead><tbody>{"".join(rows)}</tbody></table></section>
<section class="card plots">{plots}</section>
</main></body></html>
"""
