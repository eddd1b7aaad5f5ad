"""`por history --html`: one self-contained page (inline CSS and SVG, no script, no network) with the
chain's verdict, the reserve ratio per asset over the periods an audit report was given for, the
liabilities per asset over time, and the periods.

A commitment carries liabilities only: a period's reserves are known only from an audit report of
that very commitment (same snapshot id and root). Every other period says "not known", never a guess.
Every value that came from an input file goes through `por.text.html_text`; the layout is
`por.audit.report_style`'s, shared with the audit report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from por.amounts import format_amount
from por.audit.report_style import (
    PALETTE,
    Column,
    Series,
    amount_html,
    check_lang,
    coverage_text,
    label,
    line_chart,
    nice_step,
    percent_tick,
    plain,
    report_page,
    table_html,
)
from por.audit.summary import AuditSummary
from por.publication.history import ChainReport
from por.text import html_text


def _series(report: ChainReport) -> dict[str, tuple[int, list[int | None]]]:
    """Per asset: (decimals, total per period in base units or None when the asset is absent)."""
    series: dict[str, tuple[int, list[int | None]]] = {}
    for i, period in enumerate(report.periods):
        for asset, total in zip(period.commitment.assets, period.commitment.totals):
            decimals, values = series.setdefault(asset.symbol, (asset.decimals, [None] * len(report.periods)))
            values[i] = total
    return dict(sorted(series.items()))


@dataclass(frozen=True)
class PeriodReserves:
    """The audit report of one period, when one was given for exactly its commitment."""

    audits: list[AuditSummary | None]  # one per period, in chain order
    notes: list[str]  # reports that match no period, or another commitment


def reserves_by_period(report: ChainReport, audits: Sequence[AuditSummary]) -> PeriodReserves:
    """Each period's audit report: same snapshot id and the same commitment root, else not used."""
    by_snapshot = {p.commitment.snapshot_id: i for i, p in enumerate(report.periods)}
    found: list[AuditSummary | None] = [None] * len(report.periods)
    notes = []
    for audit in audits:
        i = by_snapshot.get(audit.snapshot_id)
        if i is None:
            notes.append(f"{audit.source}: audit of snapshot {audit.snapshot_id!r}, which is not one of these periods")
            continue
        root = report.periods[i].commitment.root.hex()
        if audit.root != root:
            notes.append(
                f"{audit.source}: audit of snapshot {audit.snapshot_id!r} read commitment root "
                f"{audit.root[:16]}…, but this period's root is {root[:16]}…: another commitment, not used"
            )
            continue
        first = found[i]
        if first is not None:
            notes.append(
                f"{audit.source}: a second audit report for snapshot {audit.snapshot_id!r}; {first.source} is used"
            )
            continue
        found[i] = audit
    return PeriodReserves(found, notes)


def _amount_tick(decimals: int) -> Callable[[Fraction], str]:
    def text(value: Fraction) -> str:
        units = value.numerator // value.denominator
        return amount_html_plain(format_amount(max(units, 0), decimals))

    return text


def amount_html_plain(text: str) -> str:
    whole, dot, frac = text.partition(".")
    return f"{int(whole):,}" + (f".{frac[:4].rstrip('0')}" if frac[:4].rstrip("0") else "")


def _liability_chart(
    symbol: str, decimals: int, values: list[int | None], labels: list[str], lang: str, ident: str
) -> str:
    present = [v for v in values if v is not None]
    top = max(present, default=0) or 1
    step = nice_step(Fraction(top))
    tips = [f"{labels[i]}: {'—' if v is None else format_amount(v, decimals)} {symbol}" for i, v in enumerate(values)]
    series = [Series(symbol, PALETTE[0], [None if v is None else Fraction(v) for v in values], tips)]
    desc = "; ".join(tips)
    return line_chart(
        series,
        labels,
        title=plain(f"{symbol} owed to customers per period", f"{symbol} 顧客への債務（期間別）", lang),
        desc=desc,
        y_label=plain(f"{symbol} owed to customers", f"顧客への債務（{symbol}）", lang),
        x_label=plain("snapshot", "スナップショット", lang),
        ident=ident,
        y_text=_amount_tick(decimals),
        y_max=step * -(-Fraction(top) // step),
    )


def _reserves_section(report: ChainReport, found: PeriodReserves, labels: list[str], lang: str) -> str:
    audits = found.audits
    known = [i for i, a in enumerate(audits) if a is not None]
    assets = sorted({s for a in audits if a is not None for s in a.coverage})
    unknown = [labels[i] for i, a in enumerate(audits) if a is None]
    if not known:
        statement = label(
            "Reserves are not known for any of these periods: a commitment states liabilities only. "
            "The reserve ratio of a period is shown when its audit report is given "
            "(por history --audit REPORT.json).",
            "これらの期間の準備金は不明です。コミットメントは顧客への債務のみを示します。"
            "期間の監査報告が与えられた場合に準備金の比率を表示します。",
            lang,
        )
        chart = ""
    else:
        statement = label(
            f"Reserve ratio known for {len(known)} of {len(audits)} periods, from their audit reports."
            + (f" Not known for: {', '.join(unknown)}." if unknown else ""),
            f"{len(audits)}期間中{len(known)}期間の準備金比率を監査報告から表示しています。"
            + (f"不明：{'、'.join(unknown)}" if unknown else ""),
            lang,
        )
        chart = _ratio_chart(audits, assets, labels, lang)
    columns = [
        Column(label("Snapshot", "スナップショット", lang), plain("Snapshot", "スナップショット", lang)),
        Column(label("Audit", "監査", lang), plain("Audit", "監査", lang)),
    ] + [Column(html_text(a), a, True) for a in assets]
    rows = [_audit_row(labels[i], audit, assets, lang) for i, audit in enumerate(audits)]
    notes = "".join(f"<li>{html_text(n)}</li>" for n in found.notes)
    return (
        f"<section class='card' id='reserves'><h2>{label('Reserves over time', '準備金の推移', lang)}</h2>"
        f"<p id='reserves-known'>{statement}</p>{chart}"
        + table_html(columns, rows)
        + (f"<ul class='notes'>{notes}</ul>" if notes else "")
        + "</section>"
    )


def _ratio_chart(audits: Sequence[AuditSummary | None], assets: list[str], labels: list[str], lang: str) -> str:
    """One line per asset: its reserve ratio in each period that has an audit report, a gap where none."""
    series = []
    for k, asset in enumerate(assets):
        values = [None if a is None else a.coverage.get(asset) for a in audits]
        tips = [
            f"{labels[i]} {asset}: " + ("not known / 不明" if v is None else coverage_text(_dec_text(v)))
            for i, v in enumerate(values)
        ]
        series.append(Series(asset, PALETTE[k % len(PALETTE)], values, tips))
    legend = "".join(
        f"<span><i class='sw' style='background:{s.colour}'></i>{html_text(s.name)}</span>" for s in series
    )
    high = max([v for s in series for v in s.values if v is not None] + [Fraction(6, 5)])
    caption = label(
        "Reserve ratio per asset: reserves counted ÷ owed to customers",
        "資産別の準備金比率（算入した準備金 ÷ 顧客への債務）",
        lang,
    )
    return (
        f"<figure><figcaption>{caption}</figcaption>"
        f"<div class='legend'>{legend}</div>"
        + line_chart(
            series,
            labels,
            title=plain("Reserve ratio per asset over periods", "資産別の準備金比率の推移", lang),
            desc="; ".join(t for s in series for t in s.tips),
            y_label=plain("reserve ratio, % of liabilities", "準備金比率（債務に対する%）", lang),
            x_label=plain("snapshot", "スナップショット", lang),
            ident="ratio",
            y_text=percent_tick,
            y_max=min(high, Fraction(3)),
            reference=Fraction(1),
            reference_text="100%",
            missing_text=plain("not known", "不明", lang),
        )
        + "</figure>"
    )


def _audit_row(snapshot: str, audit: AuditSummary | None, assets: list[str], lang: str) -> list[str]:
    """A period's audit verdict and reserve ratio per asset, or "not known" without its report."""
    if audit is None:
        return [html_text(snapshot), f"<span class='flag'>{label('not known', '不明', lang)}</span>"] + [
            "—" for _ in assets
        ]
    verdict = (
        f"<span class='ok'>{label('pass', '適合', lang)}</span>"
        if audit.verdict == "pass"
        else f"<span class='bad'>{label('fail', '不適合', lang)}</span>"
    )
    return [html_text(snapshot), verdict] + [
        html_text(coverage_text(_dec_text(audit.coverage.get(a)))) if audit.coverage.get(a) is not None else "—"
        for a in assets
    ]


def _periods_table(report: ChainReport, series: dict[str, tuple[int, list[int | None]]], lang: str) -> str:
    """Every period: its accounts, totals, link to the one before and signature; the root below each row."""
    flagged = [p.place in report.flagged for p in report.periods]
    columns = [
        Column(label("Snapshot", "スナップショット", lang), plain("Snapshot", "スナップショット", lang)),
        Column(label("Accounts", "アカウント数", lang), plain("Accounts", "アカウント数", lang), True),
        *(Column(html_text(sym), sym, True) for sym in series),
        Column(label("Link", "前期とのリンク", lang), plain("Link", "前期とのリンク", lang)),
        Column(label("Signature", "署名", lang), plain("Signature", "署名", lang)),
    ]
    rows, classes, details = [], [], []
    for i, (p, s) in enumerate(zip(report.periods, report.status)):
        totals = {a.symbol: format_amount(v, a.decimals) for a, v in zip(p.commitment.assets, p.commitment.totals)}
        sig = s.signature.state if s.signature else "not-checked"
        link_cls = "bad" if s.link in ("broken", "missing") else "ok" if s.link == "ok" else ""
        sig_cls = "bad" if sig == "failed" else "ok" if sig == "verified" else "flag"
        root = p.commitment.root.hex()
        rows.append(
            [
                f"<b>{html_text(p.commitment.snapshot_id)}</b><div class='note'>"
                f"{html_text(p.commitment.snapshot_time)}</div>",
                html_text(f"{p.commitment.leaf_count:,}"),
                *(amount_html(totals.get(sym), sym) if sym in totals else "–" for sym in series),
                f"<span class='{link_cls}'>{html_text(s.link)}</span>",
                f"<span class='{sig_cls}'>{html_text(sig.replace('-', ' '))}</span>",
            ]
        )
        classes.append("fail" if flagged[i] else "")
        details.append(f"{label('root', 'ルート', lang, both=False)} <span class='mono'>{html_text(root)}</span>")
    return table_html(columns, rows, row_classes=classes, details=details, wide=len(columns) > 6)


def _chain_verdict(report: ChainReport, lang: str) -> tuple[str, str]:
    """(class, heading) of the verdict over the chain: verified, not verified, or failed with its count."""
    n = len(report.periods)
    return {
        "verified": ("pass", label(f"Chain verified: {n} periods", f"連鎖を検証しました：{n}期間", lang)),
        "self-consistent": ("warn", label("Chain not verified", "連鎖は未検証", lang)),
        "failed": (
            "fail",
            label(
                f"Chain not verified: {len(report.findings)} problem(s)",
                f"連鎖は検証されませんでした：問題{len(report.findings)}件",
                lang,
            ),
        ),
    }[report.state]


def _dec_text(value: Fraction | None) -> str | None:
    """An exact ratio (a power-of-ten fraction from the report) back to its decimal text."""
    if value is None:
        return None
    whole, rest = divmod(value.numerator, value.denominator)
    digits = ""
    while rest and len(digits) < 12:
        rest *= 10
        digits += str(rest // value.denominator)
        rest %= value.denominator
    return f"{whole}.{digits}" if digits else str(whole)


def render_history(
    report: ChainReport, *, signer: str | None, audits: Sequence[AuditSummary] = (), lang: str = "en"
) -> str:
    lang = check_lang(lang)
    labels = [p.commitment.snapshot_id for p in report.periods]
    series = _series(report)
    plots = "".join(
        f"<figure><figcaption>{label(f'{sym} owed to customers', f'{sym} 顧客への債務', lang)}"
        "</figcaption>" + _liability_chart(sym, dec, vals, labels, lang, f"liab{k}") + "</figure>"
        for k, (sym, (dec, vals)) in enumerate(series.items())
    )
    findings = "".join(f"<li>{html_text(f)}</li>" for f in report.findings)
    notes = "".join(f"<li>{html_text(n)}</li>" for n in report.notes)
    verdict = _chain_verdict(report, lang)
    exchange = report.periods[0].commitment.exchange if report.periods else ""
    key = (
        label("signatures checked against the pinned key", "指定された鍵で署名を検証", lang, both=False)
        + f" <span class='mono'>{html_text(signer)}</span>"
        if signer
        else label("signatures not checked (no key pinned)", "署名は未検証（鍵の指定なし）", lang, both=False)
    )
    found = reserves_by_period(report, audits)
    body = (
        f"<header class='top'><h1>{label('Proof-of-reserves history', '準備金証明の履歴', lang)}: "
        f"{html_text(exchange)}</h1><p>{label('Chain of periodic commitments', '定期コミットメントの連鎖', lang, both=False)}"
        f" · {key}</p></header><main>"
        f"<section class='verdict {verdict[0]}' id='verdict'><h1>{verdict[1]}</h1>"
        + (f"<p>{html_text(report.unanchored_reason)}</p>" if report.state == "self-consistent" else "")
        + (f"<ul class='findings'>{findings}</ul>" if findings else "")
        + (f"<ul class='notes'>{notes}</ul>" if notes else "")
        + "</section>"
        + _reserves_section(report, found, labels, lang)
        + f"<section class='card' id='liabilities'><h2>{label('Owed to customers over time', '顧客への債務の推移', lang)}</h2>"
        f"<div class='grid2'>{plots}</div></section>"
        f"<section class='card' id='periods'><h2>{label('Periods', '期間', lang)}</h2>"
        + _periods_table(report, series, lang)
        + "</section></main>"
    )
    title = f"{plain('Proof-of-reserves history', '準備金証明の履歴', lang)}: {exchange}"
    return report_page(title, body, lang=lang)
