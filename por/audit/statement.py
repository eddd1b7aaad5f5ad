"""The segregation statement (分別管理の状況): what a Japanese auditor files, from the audit report.

`statement(doc, lang)` reads the audit JSON document (docs/formats/audit-report.schema.json) and
nothing else, so every number in the statement is a number of the report, copied as text: the
per-asset table of 利用者暗号資産 (customer crypto, the liabilities tree's totals), cold and hot
holdings, the cold ratio, 履行保証暗号資産 (own coins backing the part outside cold wallets), the
liability reserve and its cover, the snapshot, the providers and the verdict of each rule.
`render_statement_html` lays it out for reading; `statement_csvs` gives the auditor's working papers
(UTF-8 with a BOM, so spreadsheet programs in Japan open it as UTF-8; amounts as plain decimals).
Terms follow the Payment Services Act and the Cabinet Office Order (glossary: docs/policies.md).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from por.text import html_text

LANGS = ("ja", "en")

# Every label in both languages: (ja, en). Terms as the Act and the Order use them.
T = {
    "title": ("利用者暗号資産の分別管理の状況", "Segregation of customer crypto-assets"),
    "asset": ("暗号資産", "Crypto-asset"),
    "customer": ("利用者暗号資産", "Customer crypto-assets (liabilities)"),
    "cold": ("うちコールドウォレットで管理", "Held in cold wallets"),
    "hot": ("うちホットウォレットで管理", "Held in hot wallets"),
    "cold_ratio": ("コールドウォレット管理比率", "Cold ratio"),
    "outside_cold": ("コールドウォレット以外で管理", "Customer crypto outside cold wallets"),
    "own": ("履行保証暗号資産", "Own crypto-assets held as guarantee (履行保証暗号資産)"),
    "verdict": ("判定", "Result"),
    "pass": ("適合", "pass"),
    "fail": ("不適合", "fail"),
    "per_asset": ("暗号資産ごとの管理状況", "Per crypto-asset"),
    "reserve": ("責任準備金", "Liability reserve (責任準備金)"),
    "required": ("必要額", "Required"),
    "actual": ("保有額", "Held"),
    "deposits": ("積立額（申告）", "Reserve deposits (declared)"),
    "insurance": ("保険による填補額（基準日に有効な契約）", "Insurance cover in force on the snapshot date"),
    "insurance_counted": ("うち充当額", "Insurance counted"),
    "covered": ("合計", "Total cover"),
    "short": ("不足額", "Shortfall"),
    "surplus": ("超過額", "Surplus"),
    "method": ("算定方法", "Method"),
    "window": ("対象期間（月）", "Months"),
    "formula": ("算定額（端数処理前）", "Amount before rounding and bounds"),
    "rounding": ("端数処理", "Rounding"),
    "not_in_force": ("基準日に有効でない保険契約", "Insurance not in force on the snapshot date"),
    "rules": ("規則ごとの判定", "Each rule"),
    "rule": ("規則", "Rule"),
    "scope": ("対象", "Scope"),
    "unit": ("単位", "Unit"),
    "reason": ("不適合の理由（英語）", "Reason"),
    "snapshot": ("基準日時", "Snapshot"),
    "snapshot_id": ("基準日の識別子", "Snapshot id"),
    "exchange": ("暗号資産交換業者", "Crypto-asset exchange service provider"),
    "chain": ("チェーン", "Chain"),
    "height": ("ブロック高", "Block height"),
    "block": ("ブロックハッシュ", "Block hash"),
    "providers": ("残高の取得元", "Balance providers"),
    "chains": ("基準日のブロックと残高の取得元", "Snapshot blocks and balance providers"),
    "policy": ("適用した基準", "Policy applied"),
    "root": ("負債のマークル和木の根", "Liabilities Merkle sum tree root"),
    "overall": ("総合判定", "Overall result"),
    "all": ("全体", "all"),
    "up": ("1円未満切上げ", "up to a whole yen"),
    "down": ("1円未満切捨て", "down to a whole yen"),
    "trading_volume": ("取引高 × 取引の区分ごとの率", "trading volume x rate per category"),
    "clamp": ("率 × 基準額（下限・上限あり）", "rate x basis, bounded"),
    "generated": ("作成", "Generated"),
    "note": (
        "数値はすべて監査報告書（JSON）の値です。残高は基準日のブロックにおける値、責任準備金の積立額と保険は"
        "交換業者の申告です。",
        "Every number is the audit report's (JSON). Balances are at the snapshot blocks; reserve deposits "
        "and insurance are the exchange's declarations.",
    ),
}
RULE_NAMES = {
    "coverage": ("利用者暗号資産の分別管理（全量の保有）", "Segregation: customer wallets hold all customer crypto"),
    "cold_storage": ("コールドウォレットでの管理", "Cold-wallet management"),
    "hot_guarantee": ("履行保証暗号資産の保有", "Own crypto matching the part outside cold wallets"),
    "liability_reserve": ("責任準備金", "Liability reserve"),
    "custodians": ("管理の委託先の登録", "Custodians registered"),
}
ASSET_COLUMNS = ("asset", "customer", "cold", "hot", "cold_ratio", "outside_cold", "own", "verdict")


@dataclass
class Statement:
    lang: str
    exchange: str
    snapshot_id: str
    snapshot_time: str
    ok: bool
    assets: list[dict[str, str]] = field(default_factory=list)  # ASSET_COLUMNS, values as text
    reserve: list[tuple[str, str]] = field(default_factory=list)  # (label key, value)
    rules: list[dict[str, str]] = field(default_factory=list)
    chains: list[dict[str, str]] = field(default_factory=list)
    policy: str = ""
    root: str = ""
    generated_at: str = ""

    def t(self, key: str) -> str:
        ja, en = T.get(key, (key, key))
        return ja if self.lang == "ja" else en


def statement(doc: dict[str, Any], lang: str) -> Statement:
    """The audit report -> the statement's tables, in `lang` (ja or en); numbers copied as text."""
    if lang not in LANGS:
        raise ValueError(f"statement language must be one of {', '.join(LANGS)}")
    policy = doc.get("policy") or {}
    out = Statement(
        lang,
        str(doc.get("exchange", "")),
        str(doc.get("snapshot_id", "")),
        str(doc.get("snapshot_time") or ""),
        doc.get("verdict") == "pass",
        policy=f"{policy.get('title', '')} ({policy.get('name', '')})",
        root=str((doc.get("liabilities") or {}).get("root", "")),
        generated_at=str(doc.get("generated_at", "")),
    )
    for a in doc.get("assets", []):
        checks = {c["rule"]: c for c in a.get("checks", [])}
        hot = checks.get("hot_guarantee", {}).get("details", {})
        out.assets.append(
            {
                "asset": a["asset"],
                "customer": a["liabilities"],
                "cold": a["cold"],
                "hot": a["hot"],
                "cold_ratio": cold_ratio(a["cold"], a["liabilities"]),
                "outside_cold": hot.get("customer_outside_cold") or "",
                "own": a["own"],
                "verdict": out.t("pass" if a.get("verdict") == "pass" else "fail"),
            }
        )
    for c in [c for a in doc.get("assets", []) for c in a.get("checks", [])] + list(doc.get("checks") or []):
        ja, en = RULE_NAMES.get(c["rule"], (c["rule"], c["rule"]))
        out.rules.append(
            {
                "rule": ja if lang == "ja" else en,
                "scope": out.t("all") if c["scope"] == "all" else c["scope"],
                "required": c["required"],
                "actual": c["actual"],
                "unit": c["unit"],
                "verdict": out.t("pass" if c["ok"] else "fail"),
                "reason": c.get("reason") or "",
            }
        )
        if c["rule"] == "liability_reserve":
            out.reserve = reserve_rows(c, out)
    providers: dict[str, set[str]] = {}
    for row in doc.get("addresses", []):
        if row.get("provider"):
            providers.setdefault(row["chain"], set()).add(row["provider"])
    for name, chain in (doc.get("chains") or {}).items():
        out.chains.append(
            {
                "chain": name,
                "height": str(chain.get("height", "")),
                "block": str(chain.get("block_hash", "")),
                "providers": ", ".join(sorted(providers.get(name, ()))),
            }
        )
    return out


def reserve_rows(check: dict[str, Any], out: Statement) -> list[tuple[str, str]]:
    d = check.get("details", {})
    required, actual = Decimal(check["required"]), Decimal(check["actual"])
    rows = [
        ("method", out.t(d.get("method", ""))),
        ("window", d.get("window") or ""),
        ("formula", d.get("formula_jpy") or ""),
        ("rounding", out.t(d.get("rounding", ""))),
        ("required", check["required"]),
        ("deposits", d.get("reserve_deposits_jpy") or "0"),
        ("insurance", d.get("insurance_jpy") or "0"),
        ("insurance_counted", d.get("insurance_counted_jpy") or "0"),
        ("covered", check["actual"]),
        ("short" if actual < required else "surplus", plain(abs(required - actual))),
        ("verdict", out.t("pass" if check["ok"] else "fail")),
    ]
    if d.get("insurance_not_in_force"):
        rows.append(("not_in_force", d["insurance_not_in_force"]))
    return [(k, v) for k, v in rows if v != ""]


def cold_ratio(cold: str, liabilities: str) -> str:
    """cold / liabilities as a percentage rounded DOWN to 2 places (a shown ratio never overstates)."""
    try:
        owed = Decimal(liabilities)
        if owed == 0:
            return "—"
        return f"{(Decimal(cold) / owed * 100).quantize(Decimal('0.01'), rounding=ROUND_DOWN)}%"
    except InvalidOperation:
        return "—"


def plain(value: Decimal) -> str:
    text = format(value, "f")
    return (text.rstrip("0").rstrip(".") if "." in text else text) or "0"


def grouped(amount: str) -> str:
    """'1234567.5' -> '1,234,567.5' for reading; the CSV keeps the plain text."""
    whole, dot, frac = amount.partition(".")
    if not whole.isdigit():
        return amount
    return f"{int(whole):,}{dot}{frac}"


def statement_csvs(st: Statement) -> dict[str, str]:
    """File name -> CSV text (with a BOM): the per-asset table, the reserve and every rule."""

    def table(header: list[str], rows: list[list[str]]) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(rows)
        return "\ufeff" + buf.getvalue()

    meta = [
        [st.t("exchange"), st.exchange],
        [st.t("snapshot_id"), st.snapshot_id],
        [st.t("snapshot"), st.snapshot_time],
        [st.t("overall"), st.t("pass" if st.ok else "fail")],
    ]
    return {
        "statement-assets.csv": table(
            [st.t(c) for c in ASSET_COLUMNS], [[a[c] for c in ASSET_COLUMNS] for a in st.assets]
        ),
        "statement-reserve.csv": table([st.t("reserve"), "JPY"], [[st.t(k), v] for k, v in st.reserve] + meta),
        "statement-rules.csv": table(
            [st.t(k) for k in ("rule", "scope", "required", "actual", "unit", "verdict", "reason")],
            [[r[k] for k in ("rule", "scope", "required", "actual", "unit", "verdict", "reason")] for r in st.rules],
        ),
    }


# Same look as the audit report (por/audit/html.py), with Japanese fonts first where the page is Japanese.
_CSS = """
body{font:15px/1.55 system-ui,-apple-system,'Segoe UI',"Noto Sans CJK JP","Hiragino Sans","Yu Gothic",sans-serif;
margin:0;background:#f6f7f9;color:#1d2433}
body:lang(ja){font-family:"Noto Sans CJK JP","Hiragino Sans","Yu Gothic",system-ui,sans-serif}
main{max-width:1280px;margin:0 auto;padding:24px}
.verdict{border-radius:10px;padding:20px 24px;color:#fff;margin-bottom:20px}
.verdict.pass{background:#1f7a4d}.verdict.fail{background:#b42318}
.verdict h1{margin:0 0 4px;font-size:26px}
section{background:#fff;border:1px solid #e3e6eb;border-radius:10px;padding:16px 20px;margin-bottom:18px;
overflow-x:auto}
h2{font-size:18px;margin:0 0 12px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:6px 8px;border-bottom:1px solid #eef0f3;text-align:left;vertical-align:top}
th{font-size:13px}td:first-child,th:first-child{min-width:6em}td.ok,td.bad{white-space:nowrap}
#rules td:first-child{min-width:12em}
td.num,th.num{text-align:right;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px;white-space:nowrap}
.ok{color:#1f7a4d;font-weight:600}.bad{color:#b42318;font-weight:600}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;word-break:break-all}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;font-size:14px}
"""
_NUMERIC = {"customer", "cold", "hot", "cold_ratio", "outside_cold", "own", "required", "actual"}


def _cell(st: Statement, key: str, value: str) -> str:
    if key == "verdict":
        return f"<td class='{'ok' if value == st.t('pass') else 'bad'}'>{html_text(value)}</td>"
    if key in _NUMERIC:
        return f"<td class='num'>{html_text(grouped(value))}</td>"
    return f"<td>{html_text(value)}</td>"


def _reserve_rows(st: Statement) -> str:
    """The liability reserve's lines: amounts grouped, the verdict coloured, the window as text."""
    return "".join(
        f"<tr><th>{html_text(st.t(k))}</th>"
        + (
            _cell(st, "verdict", v)
            if k == "verdict"
            else f"<td class='num'>{html_text(grouped(v))}</td>"
            if v[:1].isdigit() and k != "window"
            else f"<td>{html_text(v)}</td>"
        )
        + "</tr>"
        for k, v in st.reserve
    )


_RULE_KEYS = ("rule", "scope", "required", "actual", "unit", "verdict", "reason")


def render_statement_html(st: Statement) -> str:
    head = "".join(f"<th class='{'num' if c in _NUMERIC else ''}'>{html_text(st.t(c))}</th>" for c in ASSET_COLUMNS)
    assets = "".join("<tr>" + "".join(_cell(st, c, a[c]) for c in ASSET_COLUMNS) + "</tr>" for a in st.assets)
    rules = "".join("<tr>" + "".join(_cell(st, k, r[k]) for k in _RULE_KEYS) + "</tr>" for r in st.rules)
    chains = "".join(
        f"<tr><td>{html_text(c['chain'])}</td><td class='num'>{html_text(c['height'])}</td>"
        f"<td class='mono'>{html_text(c['block'])}</td><td>{html_text(c['providers'])}</td></tr>"
        for c in st.chains
    )
    return "".join(
        [
            f"<!doctype html><html lang='{st.lang}'><head><meta charset='utf-8'>",
            "<meta name='viewport' content='width=device-width,initial-scale=1'>",
            f"<title>{html_text(st.t('title'))} — {html_text(st.exchange)} — {html_text(st.snapshot_id)}</title>",
            f"<style>{_CSS}</style></head><body><main>",
            f"<div class='verdict {'pass' if st.ok else 'fail'}' id='verdict'><h1>{html_text(st.t('title'))}</h1>",
            f"<div>{html_text(st.t('overall'))}: <b>{html_text(st.t('pass' if st.ok else 'fail'))}</b></div></div>",
            "<section><div class='meta'>",
            *(
                f"<span>{html_text(st.t(k))}</span><span>{html_text(v)}</span>"
                for k, v in (
                    ("exchange", st.exchange),
                    ("snapshot", st.snapshot_time),
                    ("snapshot_id", st.snapshot_id),
                    ("policy", st.policy),
                )
            ),
            f"<span>{html_text(st.t('root'))}</span><span class='mono'>{html_text(st.root)}</span>",
            "</div></section>",
            f"<section id='assets'><h2>{html_text(st.t('per_asset'))}</h2>"
            f"<table><tr>{head}</tr>{assets}</table></section>",
            f"<section id='reserve'><h2>{html_text(st.t('reserve'))} (JPY)</h2>"
            f"<table>{_reserve_rows(st)}</table></section>"
            if st.reserve
            else "",
            f"<section id='rules'><h2>{html_text(st.t('rules'))}</h2><table><tr>"
            + "".join(f"<th>{html_text(st.t(k))}</th>" for k in _RULE_KEYS)
            + f"</tr>{rules}</table></section>",
            f"<section id='chains'><h2>{html_text(st.t('chains'))}</h2><table><tr><th>{html_text(st.t('chain'))}</th>"
            f"<th class='num'>{html_text(st.t('height'))}</th><th>{html_text(st.t('block'))}</th>"
            f"<th>{html_text(st.t('providers'))}</th></tr>{chains}</table></section>",
            f"<p class='meta'>{html_text(st.t('note'))} "
            f"{html_text(st.t('generated'))}: {html_text(st.generated_at)}</p>",
            "</main></body></html>",
        ]
    )


def write_statement(doc: dict[str, Any], lang: str, folder: Any) -> list[Any]:
    """Writes statement.html and the three CSVs into `folder` (created if missing); returns the paths."""
    from pathlib import Path

    from por.atomic import write_text

    out = Path(folder)
    out.mkdir(exist_ok=True)
    st = statement(doc, lang)
    files = {"statement.html": render_statement_html(st), **statement_csvs(st)}
    for name, text in files.items():
        write_text(out / name, text)
    return [out / name for name in files]
