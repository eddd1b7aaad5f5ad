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
from datetime import datetime, timedelta, timezone
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from por.audit.report_style import Column, amount_html, difference, report_page, table_html
from por.text import html_text

LANGS = ("ja", "en")
JST = timezone(timedelta(hours=9), "JST")

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
    "window": ("対象期間", "Period"),
    "volume": ("取引高", "Volume traded"),
    "rate": ("率", "Rate"),
    "floor": ("下限額", "Floor"),
    "cap": ("上限額", "Cap"),
    "basis_jpy": ("基準額", "Basis"),
    "categories": ("取引の区分ごとの取引高と率", "Volume traded and rate per category"),
    "category": ("取引の区分", "Category"),
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
    "all": ("全体", "all assets"),
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
    "custodians": (
        "管理の委託先の登録・暗号資産管理システム提供業者の届出",
        "Custodians registered, custody-system providers notified",
    ),
}
# The volumes file's categories (policy `rates`), as Japanese exchanges name their businesses.
CATEGORIES = {
    "exchange": ("取引所取引", "order book (exchange)"),
    "dealer": ("販売所取引", "dealer (counterparty sales)"),
    "margin": ("暗号資産信用取引", "margin trading"),
    "derivatives": ("暗号資産デリバティブ取引", "derivatives"),
}
# The defined and working terms the Japanese statement uses: each is in docs/policies.md's glossary
# with its English rendering and article (a test checks both ways).
GLOSSARY_TERMS = (
    "暗号資産",
    "暗号資産交換業者",
    "登録番号",
    "利用者暗号資産",
    "分別管理",
    "分別管理の状況",
    "コールドウォレット",
    "ホットウォレット",
    "コールドウォレット管理比率",
    "履行保証暗号資産",
    "責任準備金",
    "取引高",
    "取引の区分",
    "取引所取引",
    "販売所取引",
    "暗号資産信用取引",
    "暗号資産デリバティブ取引",
    "率",
    "積立額",
    "充当額",
    "算定額",
    "端数処理",
    "必要額",
    "保有額",
    "不足額",
    "超過額",
    "管理の委託先",
    "暗号資産管理システム提供業者",
    "届出番号",
    "算入",
    "不算入",
    "基準日",
    "判定",
    "総合判定",
    "適合",
    "不適合",
)
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
    snapshot_jst: str = ""  # the snapshot time in Japan, as a Japanese auditor dates it
    checks: list[dict[str, Any]] = field(default_factory=list)  # the report's checks, in the order of `rules`
    custodial: list[dict[str, str]] = field(default_factory=list)  # wallets held by a custodian or run by a provider

    def t(self, key: str) -> str:
        """A label; "volume.exchange" is the volume label with the category's name."""
        head, dot, category = key.partition(".")
        if dot and head in T:
            ja, en = CATEGORIES.get(category, (category, category))
            return f"{self.t(head)}（{ja}）" if self.lang == "ja" else f"{self.t(head)} ({en})"
        ja, en = T.get(key, (key, key))
        return ja if self.lang == "ja" else en

    def snapshot_text(self) -> str:
        if self.snapshot_jst and self.snapshot_time:
            return f"{self.snapshot_jst} ({self.snapshot_time})"
        return self.snapshot_jst or self.snapshot_time


def rule_name(rule: str, lang: str) -> str:
    ja, en = RULE_NAMES.get(rule, (rule, rule))
    return ja if lang == "ja" else en


def jst_text(utc: str) -> str:
    """'2026-06-30T15:00:00Z' -> '2026-07-01 00:00 JST'; '' when it is not an ISO time."""
    try:
        moment = datetime.fromisoformat(utc.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if moment.tzinfo is None:
        return ""
    return moment.astimezone(JST).strftime("%Y-%m-%d %H:%M JST")


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
        snapshot_jst=jst_text(str(doc.get("snapshot_time") or "")),
    )
    out.assets = [asset_row(a, out) for a in doc.get("assets", [])]
    out.checks = [c for a in doc.get("assets", []) for c in a.get("checks", [])] + list(doc.get("checks") or [])
    for c in out.checks:
        out.rules.append(
            {
                "rule": rule_name(c["rule"], lang),
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
    out.chains = chain_rows(doc)
    out.custodial = [custodial_row(row) for row in doc.get("addresses", []) if held_by_third_party(row)]
    return out


def held_by_third_party(row: dict[str, Any]) -> bool:
    return isinstance(row.get("custodian"), dict) or isinstance(row.get("custody_system"), dict)


def custodial_row(row: dict[str, Any]) -> dict[str, str]:
    """A wallet held by a custodian or run on a custody-system provider, as the report has it."""
    custodian, system = row.get("custodian"), row.get("custody_system")
    custodian = custodian if isinstance(custodian, dict) else {}
    system = system if isinstance(system, dict) else {}
    return {
        "chain": str(row.get("chain", "")),
        "asset": str(row.get("asset", "")),
        "address": str(row.get("address", "")),
        "wallet_type": str(row.get("wallet_type", "")),
        "balance": str(row.get("balance") or ""),
        "custodian": str(custodian.get("name") or ""),
        "registration": str(custodian.get("registration") or ""),
        "custody_system": str(system.get("name") or ""),
        "notification": str(system.get("notification") or ""),
        "counted": "yes" if row.get("counted") else "no",
        "reason": str(row.get("not_counted_reason") or ""),
    }


def asset_row(a: dict[str, Any], out: Statement) -> dict[str, str]:
    hot = {c["rule"]: c for c in a.get("checks", [])}.get("hot_guarantee", {}).get("details", {})
    return {
        "asset": a["asset"],
        "customer": a["liabilities"],
        "cold": a["cold"],
        "hot": a["hot"],
        "cold_ratio": cold_ratio(a["cold"], a["liabilities"]),
        "outside_cold": hot.get("customer_outside_cold") or "",
        "own": a["own"],
        "verdict": out.t("pass" if a.get("verdict") == "pass" else "fail"),
    }


def chain_rows(doc: dict[str, Any]) -> list[dict[str, str]]:
    """Per chain the snapshot block and the providers that agreed (the report's own list, else the addresses')."""
    by_address: dict[str, set[str]] = {}
    for row in doc.get("addresses", []):
        if row.get("provider"):
            by_address.setdefault(row["chain"], set()).add(row["provider"])
    rows = []
    for name, chain in (doc.get("chains") or {}).items():
        listed = chain.get("providers")
        providers = listed if isinstance(listed, list) and listed else sorted(by_address.get(name, ()))
        rows.append(
            {
                "chain": name,
                "height": str(chain.get("height", "")),
                "block": str(chain.get("block_hash", "")),
                "providers": ", ".join(str(p) for p in providers),
            }
        )
    return rows


def reserve_rows(check: dict[str, Any], out: Statement) -> list[tuple[str, str]]:
    d = check.get("details", {})
    required, actual = Decimal(check["required"]), Decimal(check["actual"])
    rows = [("method", out.t(d.get("method", ""))), ("window", period_text(d, out.lang))]
    for category in [k.removeprefix("rate.") for k in d if k.startswith("rate.")]:
        rows += [
            (f"volume.{category}", d.get(f"volume_jpy.{category}") or "0"),
            (f"rate.{category}", d[f"rate.{category}"]),
        ]
    rows += [("basis_jpy", d.get("basis_jpy") or ""), ("rate", d.get("rate") or "")]
    rows += [
        ("formula", d.get("formula_jpy") or ""),
        ("floor", "" if d.get("floor_jpy") in (None, "0") else d["floor_jpy"]),
        ("cap", d.get("cap_jpy") or ""),
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


def period_text(details: dict[str, Any], lang: str) -> str:
    """'2025-07..2026-06' and 12 -> '2025-07〜2026-06（12か月）' / '2025-07 to 2026-06 (12 months)'."""
    window, months = details.get("window") or "", details.get("window_months") or ""
    if not window:
        return ""
    first, _, last = window.partition("..")
    if lang == "ja":
        return f"{first}〜{last}" + (f"（{months}か月）" if months else "")
    return f"{first} to {last}" + (f" ({months} months)" if months else "")


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


CUSTODIAL_COLUMNS = (
    "chain",
    "asset",
    "address",
    "wallet_type",
    "balance",
    "custodian",
    "registration",
    "custody_system",
    "notification",
    "counted",
    "reason",
)


def statement_csvs(st: Statement) -> dict[str, str]:
    """File name -> CSV text (with a BOM): the per-asset table, the reserve, every rule, and the wallets
    held by custodians or run on custody-system providers (header only when there are none)."""

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
        "statement-custodians.csv": table(
            [_t(st, "not_counted_reason" if k == "reason" else k) for k in CUSTODIAL_COLUMNS],
            [[_t(st, w[k]) if k == "counted" else w[k] for k in CUSTODIAL_COLUMNS] for w in st.custodial],
        ),
    }


# The page: the reports' layout (por.audit.report_style), in the statement's one language.
PAGE_T = {
    "failing": ("{n}件中{f}件の規則が不適合", "{f} of {n} rules failed"),
    "all_met": ("すべての規則に適合（{n}件）", "Every rule met ({n} rules)"),
    "short_by": ("不足", "short"),
    "at_most": ("上限", "at most"),
    "found": ("該当", "found"),
    "custodial": (
        "管理の委託先が保管し、又は暗号資産管理システム提供業者のシステムで管理するウォレット",
        "Wallets held by custodians or run on custody-system providers",
    ),
    "address": ("アドレス", "Address"),
    "wallet_type": ("種別", "Wallet type"),
    "not_counted_reason": ("不算入の理由（英語）", "Why not counted"),
    "balance": ("残高", "Balance"),
    "custodian": ("委託先", "Custodian"),
    "registration": ("登録番号", "Registration number"),
    "custody_system": ("暗号資産管理システム提供業者", "Custody-system provider"),
    "notification": ("届出番号", "Notification number"),
    "counted": ("算入", "Counted"),
    "yes": ("算入", "counted"),
    "no": ("不算入", "not counted"),
    "item": ("項目", "Item"),
    "volume_yen": ("取引高（円）", "Volume (JPY)"),
    "amount": ("金額（円）", "Amount (JPY)"),
}
_RESERVE_AMOUNTS = {
    "floor",
    "cap",
    "formula",
    "required",
    "deposits",
    "insurance",
    "insurance_counted",
    "covered",
    "short",
    "surplus",
}
_ASSET_AMOUNTS = {"customer", "cold", "hot", "outside_cold", "own"}
SHOWN_DIGITS = 18  # the most decimals an asset has here (ETH): the page shows what the JSON says, in full
UNITS = {"JPY": ("円", "JPY"), "wallets": ("件", "wallets")}
_CSS = """
.verdict .overall{font-size:16px;font-weight:700;margin-top:6px} .verdict li .short{display:inline-block}
#reserve .meta{margin:0 0 10px}
table.kv{margin-top:10px} table.kv th{font-size:14px;font-weight:400;color:#17202a}
table.kv td{text-align:right;font-variant-numeric:tabular-nums} table.kv td .amt{white-space:nowrap}
table.kv tr.fail th{font-weight:600;background:#fdf1f0}
#reserve h3{font-size:14px;margin:12px 0 4px} table.plain td .amt{white-space:nowrap}
#assets th:first-child{white-space:nowrap}
td>.v{margin-left:auto} #custodians th{white-space:nowrap}
@media (min-width:1024px) and (max-width:1139px){#assets th,#assets td{padding:6px 5px}}
@media (max-width:699px){
 #about .meta{grid-template-columns:minmax(0,1fr);gap:0}
 #about .meta>span:nth-child(odd){font-size:12.5px;font-weight:600;color:#3d4754;margin-top:6px}
}
@media print{.amt.more::after{content:" (" attr(title) ")";font-size:11px}}
"""


def _t(st: Statement, key: str, **values: object) -> str:
    ja, en = PAGE_T[key] if key in PAGE_T else T.get(key, (key, key))
    return (ja if st.lang == "ja" else en).format(**values)


def _col(st: Statement, key: str, numeric: bool = False) -> Column:
    return Column(html_text(_t(st, key)), _t(st, key), numeric)


def _amount(st: Statement, value: object, unit: object, show_unit: bool = True) -> str:
    """Every digit the report has (a statement is checked against the JSON), units in the page's language."""
    shown = UNITS.get(str(unit), (str(unit), str(unit)))[0 if st.lang == "ja" else 1]
    return amount_html(value, shown, places=SHOWN_DIGITS, show_unit=show_unit)


def _result_html(st: Statement, ok: bool) -> str:
    return f"<span class='{'ok' if ok else 'bad'} res'>{html_text(st.t('pass' if ok else 'fail'))}</span>"


def _gap_html(st: Statement, check: dict[str, Any]) -> str:
    """What a failing rule lacks: the shortfall, or for a ceiling (custodians: at most 0) what was found."""
    unit = check.get("unit")
    short = difference(check.get("required"), check.get("actual"))
    if short is not None and not short.startswith("-") and short != "0":
        return f"{html_text(_t(st, 'short_by'))} {_amount(st, short, unit)}"
    return (
        f"{html_text(_t(st, 'found'))} {_amount(st, check.get('actual'), unit)} · "
        f"{html_text(_t(st, 'at_most'))} {_amount(st, check.get('required'), unit)}"
    )


def _verdict_html(st: Statement) -> str:
    failing = [c for c in st.checks if not c.get("ok")]
    items = "".join(
        f"<li><b>{html_text(st.t('all') if c['scope'] == 'all' else c['scope'])}</b> · "
        f"{html_text(rule_name(c['rule'], st.lang))} — <span class='short'>{_gap_html(st, c)}</span></li>"
        for c in failing
    )
    n = len(st.checks)
    summary = _t(st, "all_met", n=n) if st.ok else _t(st, "failing", n=n, f=len(failing))
    return (
        f"<section class='verdict {'pass' if st.ok else 'fail'}' id='verdict' aria-label='verdict'>"
        f"<h1>{html_text(st.t('title'))}</h1>"
        f"<p>{html_text(st.exchange)} · {html_text(st.t('snapshot'))} {html_text(st.snapshot_text())}</p>"
        f"<p class='overall'>{html_text(st.t('overall'))}: {html_text(st.t('pass' if st.ok else 'fail'))} — "
        f"{html_text(summary)}</p>" + (f"<ol id='failing'>{items}</ol>" if items else "") + "</section>"
    )


def _meta_html(st: Statement) -> str:
    rows = [
        ("exchange", html_text(st.exchange)),
        ("snapshot", html_text(st.snapshot_text())),
        ("snapshot_id", html_text(st.snapshot_id)),
        ("policy", html_text(st.policy)),
        ("root", f"<span class='mono'>{html_text(st.root)}</span>"),
    ]
    cells = "".join(f"<span>{html_text(st.t(k))}</span><span>{v}</span>" for k, v in rows)
    return f"<section class='card' id='about'><div class='meta'>{cells}</div></section>"


def _assets_html(st: Statement) -> str:
    columns = [_col(st, c, c != "asset" and c != "verdict") for c in ASSET_COLUMNS]
    rows, classes = [], []
    for a in st.assets:
        ok = a["verdict"] == st.t("pass")
        cells = {c: _amount(st, a[c], a["asset"], False) for c in _ASSET_AMOUNTS}
        cells.update(
            asset=f"<b>{html_text(a['asset'])}</b>", cold_ratio=html_text(a["cold_ratio"]), verdict=_result_html(st, ok)
        )
        rows.append([cells[c] for c in ASSET_COLUMNS])
        classes.append("" if ok else "fail")
    table = table_html(columns, rows, row_classes=classes, wide=True)
    return f"<section class='card' id='assets'><h2>{html_text(st.t('per_asset'))}</h2>{table}</section>"


def _categories_html(st: Statement, rows: dict[str, str]) -> str:
    """The volume traded and the rate of each category: what a hand check of the formula starts from."""
    categories = [k.removeprefix("volume.") for k, _ in st.reserve if k.startswith("volume.")]
    per_category = "".join(
        f"<tr><td>{html_text(CATEGORIES.get(c, (c, c))[0 if st.lang == 'ja' else 1])} "
        f"<span class='rid'>{html_text(c)}</span></td><td class='num'>{_amount(st, rows[f'volume.{c}'], 'JPY', False)}"
        f"</td><td class='num'>{html_text(rows[f'rate.{c}'])}</td></tr>"
        for c in categories
    )
    if per_category:
        head = "".join(
            f"<th scope='col'{' class=num' if k != 'category' else ''}>{html_text(_t(st, k))}</th>"
            for k in ("category", "volume_yen", "rate")
        )
        per_category = (
            f"<h3>{html_text(st.t('categories'))}</h3>"
            f"<table class='plain'><thead><tr>{head}</tr></thead><tbody>{per_category}</tbody></table>"
        )
    return per_category


def _reserve_html(st: Statement) -> str:
    """How the requirement was computed (method, period, volume and rate per category), then the
    requirement against its cover, one figure a line, and the insurance that did not count."""
    if not st.reserve:
        return ""
    rows = dict(st.reserve)
    about = "".join(
        f"<span>{html_text(st.t(k))}</span><span>{html_text(rows[k])}</span>"
        for k in ("method", "window", "rounding")
        if k in rows
    )
    per_category = _categories_html(st, rows)
    figures = []
    for key in (
        "basis_jpy",
        "rate",
        "formula",
        "floor",
        "cap",
        "required",
        "deposits",
        "insurance",
        "insurance_counted",
        "covered",
        "short",
        "surplus",
        "verdict",
    ):
        if key not in rows:
            continue
        value = rows[key]
        shown = (
            _result_html(st, value == st.t("pass"))
            if key == "verdict"
            else html_text(value)
            if key == "rate"
            else _amount(st, value, "JPY")
        )
        cls = " class='fail'" if key == "short" else ""
        figures.append(f"<tr{cls}><th scope='row'>{html_text(st.t(key))}</th><td>{shown}</td></tr>")
    lapsed = (
        f"<p class='note'>{html_text(st.t('not_in_force'))}: {html_text(rows['not_in_force'])}</p>"
        if "not_in_force" in rows
        else ""
    )
    return (
        f"<section class='card' id='reserve'><h2>{html_text(st.t('reserve'))}</h2>"
        f"<div class='meta'>{about}</div>{per_category}"
        f"<table class='kv'><tbody>{''.join(figures)}</tbody></table>{lapsed}</section>"
    )


def _rules_html(st: Statement) -> str:
    columns = [_col(st, k, k in ("required", "actual")) for k in ("rule", "scope", "required", "actual", "verdict")]
    rows, classes, reasons = [], [], []
    for r, c in zip(st.rules, st.checks):
        rows.append(
            [
                html_text(r["rule"]),
                html_text(r["scope"]),
                _amount(st, r["required"], r["unit"]),
                _amount(st, r["actual"], r["unit"]),
                _result_html(st, bool(c.get("ok"))),
            ]
        )
        classes.append("" if c.get("ok") else "fail")
        prefix = "理由（英語）: " if st.lang == "ja" and r["reason"] else ""
        reasons.append(html_text(prefix + r["reason"]))
    table = table_html(columns, rows, row_classes=classes, details=reasons)
    return f"<section class='card' id='rules'><h2>{html_text(st.t('rules'))}</h2>{table}</section>"


def _party_html(name: str, number: str) -> str:
    """A custodian or provider in one cell: its name, its number below it; "—" for none."""
    if not name:
        return "—"
    shown = html_text(name) + (f"<br><span class='rid'>{html_text(number)}</span>" if number else "")
    return f"<span class='party'>{shown}</span>"  # one box: a phone's card keeps the number under the name


def _custodial_html(st: Statement) -> str:
    if not st.custodial:
        return ""
    keys = ("chain", "asset", "address", "balance", "custodian", "custody_system", "counted")
    columns = [_col(st, k, k == "balance") for k in keys]
    rows, classes = [], []
    for w in st.custodial:
        counted = w["counted"] == "yes"
        rows.append(
            [
                html_text(w["chain"]),
                html_text(w["asset"]),
                f"<span class='mono'>{html_text(w['address'])}</span>",
                _amount(st, w["balance"], w["asset"], False),
                _party_html(w["custodian"], w["registration"]),
                _party_html(w["custody_system"], w["notification"]),
                f"<span class='{'ok' if counted else 'bad'} res'>{html_text(_t(st, w['counted']))}</span>",
            ]
        )
        classes.append("" if counted else "fail")
    prefix = "理由（英語）: " if st.lang == "ja" else ""
    reasons = [html_text(prefix + w["reason"]) if w["reason"] else "" for w in st.custodial]
    table = table_html(columns, rows, row_classes=classes, details=reasons, wide=True)
    return f"<section class='card' id='custodians'><h2>{html_text(_t(st, 'custodial'))}</h2>{table}</section>"


def _chains_html(st: Statement) -> str:
    columns = [_col(st, "chain"), _col(st, "height", True), _col(st, "block"), _col(st, "providers")]
    rows = [
        [
            f"<b>{html_text(c['chain'])}</b>",
            html_text(f"{int(c['height']):,}" if c["height"].isdigit() else c["height"]),
            f"<span class='mono'>{html_text(c['block'])}</span>",
            "<br>".join(f"<span class='mono'>{html_text(p)}</span>" for p in c["providers"].split(", ") if p) or "—",
        ]
        for c in st.chains
    ]
    return (
        f"<section class='card' id='chains'><h2>{html_text(st.t('chains'))}</h2>{table_html(columns, rows)}</section>"
    )


def render_statement_html(st: Statement) -> str:
    """The statement as one self-contained page in the reports' layout: the result and what each failing
    rule lacks first, then the per-asset table, the reserve, every rule, custodians and the blocks read."""
    body = "".join(
        [
            "<main>",
            _verdict_html(st),
            _meta_html(st),
            _assets_html(st),
            _reserve_html(st),
            _rules_html(st),
            _custodial_html(st),
            _chains_html(st),
            f"<p class='note'>{html_text(st.t('note'))} "
            f"{html_text(st.t('generated'))}: {html_text(st.generated_at)}</p>",
            "</main>",
        ]
    )
    return report_page(f"{st.t('title')} — {st.exchange} — {st.snapshot_id}", body, lang=st.lang, css=_CSS)


def write_statement(doc: dict[str, Any], lang: str, folder: Any) -> list[Any]:
    """Writes statement.html and the four CSVs into `folder` (created if missing); returns the paths."""
    from pathlib import Path

    from por.atomic import write_text

    out = Path(folder)
    out.mkdir(exist_ok=True)
    st = statement(doc, lang)
    files = {"statement.html": render_statement_html(st), **statement_csvs(st)}
    for name, text in files.items():
        write_text(out / name, text)
    return [out / name for name in files]
