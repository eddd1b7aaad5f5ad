"""The segregation statement (分別管理の状況): every number is the JSON report's, in Japanese and English."""

import csv
import io
import json
import re
from html import escape as html_escape
from pathlib import Path

import jsonschema
import pytest

from fixtures.japan import jp_report
from fixtures.report_pages import LAYOUT, glyphs_drawn
from por.audit.report_style import CSS, FONT_STACK
from por.audit.statement import (
    CATEGORIES,
    GLOSSARY_TERMS,
    PAGE_T,
    RULE_NAMES,
    T,
    cold_ratio,
    jst_text,
    period_text,
    render_statement_html,
    statement,
    statement_csvs,
    write_statement,
)
from por.cli.audit import check_statement_options
from por.errors import InputError

SCHEMA = json.loads((Path(__file__).parents[1] / "docs/formats/audit-report.schema.json").read_text())


@pytest.fixture
def doc(tmp_path):
    report = jp_report(tmp_path)
    jsonschema.validate(report, SCHEMA)
    return report


def read_csv(text):
    assert text.startswith("\ufeff")  # a BOM: spreadsheets in Japan read it as UTF-8
    return list(csv.reader(io.StringIO(text[1:])))


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_statements_numbers_equal_the_json_reports(doc, tmp_path, lang):
    paths = write_statement(doc, lang, tmp_path / "out")
    assert sorted(p.name for p in paths) == [
        "statement-assets.csv",
        "statement-custodians.csv",
        "statement-reserve.csv",
        "statement-rules.csv",
        "statement.html",
    ]
    files = {p.name: p.read_text(encoding="utf-8") for p in paths}
    header, *rows = read_csv(files["statement-assets.csv"])
    assert len(rows) == len(doc["assets"])
    for row, asset in zip(rows, doc["assets"]):
        checks = {c["rule"]: c for c in asset["checks"]}
        assert row[:4] == [asset["asset"], asset["liabilities"], asset["cold"], asset["hot"]]
        assert row[5] == checks["hot_guarantee"]["details"]["customer_outside_cold"] and row[6] == asset["own"]
    assert doc["liabilities"]["totals"]["ETH"] == rows[1][1]  # 利用者暗号資産 = the tree's total
    (reserve,) = [c for c in doc["checks"] if c["rule"] == "liability_reserve"]
    _, *reserve_rows = read_csv(files["statement-reserve.csv"])
    values = [v for _, v in reserve_rows]
    for number in (
        reserve["required"],
        reserve["actual"],
        reserve["details"]["reserve_deposits_jpy"],
        reserve["details"]["insurance_jpy"],
        reserve["details"]["formula_jpy"],
    ):
        assert number in values
    _, *rules = read_csv(files["statement-rules.csv"])
    every = [c for a in doc["assets"] for c in a["checks"]] + doc["checks"]
    assert [(r[2], r[3], r[4]) for r in rules] == [(c["required"], c["actual"], c["unit"]) for c in every]
    html = files["statement.html"]
    for number in report_numbers(doc):
        assert f"title='{number} " in html or f">{html_escape(number)}<" in html, number
    for asset in doc["assets"]:
        for key in ("liabilities", "cold", "hot", "own"):
            whole, dot, frac = asset[key].partition(".")
            assert f">{int(whole):,}{dot}{frac}<" in html, (asset["asset"], key)  # every digit, grouped
    assert "…" not in html  # nothing is cut: the page shows each number as the report has it


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_custodians_csv_rows_equal_the_json_reports(doc, tmp_path, lang):
    """statement-custodians.csv: one row per wallet held by a custodian or run on a custody-system
    provider, each field the report's (counted in the statement's words)."""
    files = {p.name: p for p in write_statement(doc, lang, tmp_path / "out")}
    header, *rows = read_csv(files["statement-custodians.csv"].read_text(encoding="utf-8"))
    assert len(header) == 11 and header[5] == ("委託先" if lang == "ja" else "Custodian")
    words = {True: "算入", False: "不算入"} if lang == "ja" else {True: "counted", False: "not counted"}
    held = [a for a in doc["addresses"] if a.get("custodian") or a.get("custody_system")]
    expected = [
        [
            a["chain"],
            a["asset"],
            a["address"],
            a["wallet_type"],
            a["balance"],
            (a["custodian"] or {}).get("name", ""),
            (a["custodian"] or {}).get("registration", ""),
            (a["custody_system"] or {}).get("name", ""),
            (a["custody_system"] or {}).get("notification", ""),
            words[a["counted"]],
            a["not_counted_reason"] or "",
        ]
        for a in held
    ]
    assert rows == expected
    # the fixture has all three kinds: custodian and provider, custodian alone (lapsed), provider alone
    assert len(rows) == 3 and {r[9] for r in rows} == set(words.values())
    assert any(r[5] and r[7] for r in rows) and any(r[5] and not r[7] for r in rows)
    assert any(r[7] and not r[5] for r in rows)
    assert "lapsed on 2026-03-31" in rows[1][10]
    no_one = dict(doc, addresses=[dict(a, custodian=None, custody_system=None) for a in doc["addresses"]])
    only_header = {p.name: p for p in write_statement(no_one, lang, tmp_path / "none")}
    assert read_csv(only_header["statement-custodians.csv"].read_text(encoding="utf-8")) == [header]


def report_numbers(doc):
    """Every amount of the report the statement shows: per asset, per rule, and the reserve's figures."""
    checks = [c for a in doc["assets"] for c in a["checks"]] + doc["checks"]
    numbers = [a[k] for a in doc["assets"] for k in ("liabilities", "cold", "hot", "own")]
    numbers += [n for c in checks for n in (c["required"], c["actual"])]
    (reserve,) = [c for c in doc["checks"] if c["rule"] == "liability_reserve"]
    d = reserve["details"]
    numbers += [d[k] for k in ("formula_jpy", "reserve_deposits_jpy", "insurance_jpy", "insurance_counted_jpy")]
    numbers += [v for k, v in d.items() if k.startswith(("volume_jpy.", "rate."))]
    return numbers


def test_hand_checked_values_of_the_japanese_statement(doc):
    """BTC: 6 of 96 cold BTC sit at a lapsed custodian: cold 90 = 90.00%, 不適合; the reserve is
    12 x (5e11 x 0.0002 + (1e11 + 7) x 0.0002) = 1,440,000,000.0168 -> 1,440,000,001 yen; deposits
    100,000,000 + the one policy in force 50,000,000 = 150,000,000: 1,290,000,001 short."""
    st = statement(doc, "ja")
    btc, eth = st.assets
    assert (btc["customer"], btc["cold"], btc["cold_ratio"], btc["verdict"]) == ("100", "90", "90.00%", "不適合")
    assert (eth["cold_ratio"], eth["outside_cold"], eth["verdict"]) == ("95.99%", "40.000000000000000005", "適合")
    reserve = dict(st.reserve)
    assert reserve["required"] == "1440000001" and reserve["formula"] == "1440000000.0168"
    assert (reserve["insurance"], reserve["covered"], reserve["short"]) == ("50000000", "150000000", "1290000001")
    assert "CY-2025-17" in reserve["not_in_force"] and reserve["rounding"] == "1円未満切上げ"
    assert not st.ok and {r["rule"] for r in st.rules} >= {
        RULE_NAMES["custodians"][0],
        "責任準備金",
        "履行保証暗号資産の保有",
    }
    assert st.chains[0] == {"chain": "bitcoin", "height": "100", "block": "11" * 32, "providers": "esplora-a+esplora-b"}


def test_the_japanese_page_uses_the_acts_terms_and_the_reports_layout(doc):
    html = render_statement_html(statement(doc, "ja"))
    assert html.startswith("<!doctype html>\n<html lang='ja'>") and FONT_STACK in html and CSS in html
    assert "<script" not in html and "default-src 'none'" in html  # report_page's frame: no script, no network
    for section in ("verdict", "about", "assets", "reserve", "rules", "custodians", "chains"):
        assert f"id='{section}'" in html, section
    assert "<table class='cards wide'>" in html  # the per-asset table becomes one card per asset on a phone
    for term in (
        "利用者暗号資産",
        "コールドウォレット",
        "履行保証暗号資産",
        "責任準備金",
        "基準日時",
        "不適合",
        "販売所取引",
    ):
        assert term in html, term
    assert "Example &lt;Exchange&gt; K.K." in html and "<Exchange>" not in html  # input is escaped
    assert "2026-07-01 00:00 JST (2026-06-30T15:00:00Z)" in html  # the snapshot as dated in Japan
    head = html[html.index("id='verdict'") : html.index("id='about'")]
    assert "8件中4件の規則が不適合" in head and "不足 <span class='amt' title='1290000001 円'>" in head
    assert "該当 <span class='amt' title='1 件'>" in head  # the custodians rule: one wallet, at most none
    custodians = html[html.index("id='custodians'") : html.index("id='chains'")]
    assert "Lapsed Trust Co., Ltd." in custodians and "不算入" in custodians and "2026-03-31" in custodians
    english = render_statement_html(statement(doc, "en"))
    assert english.startswith("<!doctype html>\n<html lang='en'>") and "Liability reserve" in english
    assert "4 of 8 rules failed" in english and "title='1290000001 JPY'" in english


def test_the_snapshot_and_the_period_read_as_in_japan():
    assert jst_text("2026-06-30T15:00:00Z") == "2026-07-01 00:00 JST"
    assert jst_text("2026-06-30T14:59:59+00:00") == "2026-06-30 23:59 JST"
    assert jst_text("not a time") == "" and jst_text("2026-06-30T15:00:00") == ""  # no zone: not guessed
    details = {"window": "2025-07..2026-06", "window_months": "12"}
    assert period_text(details, "ja") == "2025-07〜2026-06（12か月）"
    assert period_text(details, "en") == "2025-07 to 2026-06 (12 months)"
    assert period_text({}, "ja") == ""


def glossary_terms() -> list[str]:
    """The Japanese column of docs/policies.md's glossary, each `A / B` cell split into its terms."""
    text = (Path(__file__).parents[1] / "docs/policies.md").read_text(encoding="utf-8")
    table = text[text.index("### Glossary") : text.index("## The segregation statement")]
    cells = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    return [t.strip() for cell in cells[1:] for t in re.split(r"[/（）]", cell) if t.strip()]


def test_every_term_of_the_statement_is_in_the_glossary_with_its_article():
    terms = glossary_terms()
    labels = " ".join(ja for ja, _ in [*T.values(), *PAGE_T.values(), *RULE_NAMES.values(), *CATEGORIES.values()])
    for term in GLOSSARY_TERMS:
        assert term in terms, f"{term} is not in the glossary of docs/policies.md"
        assert term in labels, f"{term} is in GLOSSARY_TERMS but the statement does not use it"
    text = (Path(__file__).parents[1] / "docs/policies.md").read_text(encoding="utf-8")
    rows = text[text.index("### Glossary") : text.index("## The segregation statement")].splitlines()
    for row in [r for r in rows if r.startswith("| ") and "---" not in r][1:]:
        japanese, english, today, after = [c.strip() for c in row.strip("|").split("|")]
        assert japanese and english and today and after, row  # every term: English, today's article, after the bill


def test_cold_ratio_is_rounded_down():
    assert cold_ratio("94.999", "100") == "94.99%" and cold_ratio("1", "0") == "—"
    assert cold_ratio("2", "3") == "66.66%"


def test_statement_options_go_together(tmp_path):
    check_statement_options(None, None)
    check_statement_options("ja", tmp_path / "new")  # created after the audit
    with pytest.raises(InputError, match="--statement-out"):
        check_statement_options("ja", None)
    with pytest.raises(InputError, match="ja or en"):
        check_statement_options("fr", tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        check_statement_options("en", tmp_path / "no" / "such")
    with pytest.raises(ValueError):
        statement({}, "fr")


def test_csvs_are_the_same_tables_in_either_language(doc):
    ja, en = statement_csvs(statement(doc, "ja")), statement_csvs(statement(doc, "en"))
    for name in ja:
        ja_rows, en_rows = read_csv(ja[name]), read_csv(en[name])
        assert len(ja_rows) == len(en_rows) and ja_rows[0] != en_rows[0]  # headers translated
    assert read_csv(ja["statement-assets.csv"])[1][:4] == read_csv(en["statement-assets.csv"])[1][:4]


WIDTHS = {390: 844, 1280: 800}  # phone and desktop: viewport width -> first screen height


@pytest.mark.browser
@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_statement_fits_phone_and_desktop_with_nothing_cut_off(
    doc, tmp_path, lang, width, chromium, screenshot_dir
):
    write_statement(doc, lang, tmp_path / "out")
    page = chromium.new_page(viewport={"width": width, "height": WIDTHS[width]})
    page.goto((tmp_path / "out" / "statement.html").as_uri())
    layout = page.evaluate(LAYOUT)
    page.screenshot(path=str(screenshot_dir / f"statement-{lang}-{width}.png"), full_page=True)
    assert layout["scrollWidth"] <= layout["clientWidth"], layout
    assert not layout["cut"], layout["cut"][:5]
    assert layout["lang"] == lang
    verdict = page.locator("#verdict")
    assert verdict.locator("h1").inner_text() == (
        "利用者暗号資産の分別管理の状況" if lang == "ja" else "Segregation of customer crypto-assets"
    )
    items = page.locator("#failing li")
    assert items.count() == 4  # coverage and cold storage of BTC, the reserve, the custodians
    for i in range(items.count()):
        box = items.nth(i).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= WIDTHS[width], (i, box)  # in the first screen
    assert page.locator("#assets tbody tr").count() == len(doc["assets"])
    assert page.evaluate("document.querySelectorAll('script, link[rel=stylesheet], img').length") == 0
    page.close()


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["ja", "en"])
def test_no_sideways_scroll_at_any_width_with_real_addresses(doc, tmp_path, lang, chromium, screenshot_dir):
    """Long bech32 and 0x addresses and a long provider name, every width from a phone to past the desktop
    (the wide tables turn into cards below 1024 px: the per-asset table once overflowed at 1024-1033)."""
    for i, a in enumerate(doc["addresses"]):
        a["address"] = "bc1p" + "q" * 57 + str(i) if a["chain"] == "bitcoin" else "0x" + "ab" * 20
        if a.get("custody_system"):
            a["custody_system"]["name"] = "Very Long Custody Systems Provider Name Kabushiki Kaisha International"
    write_statement(doc, lang, tmp_path / "out")
    page = chromium.new_page(viewport={"width": 390, "height": 844})
    page.goto((tmp_path / "out" / "statement.html").as_uri())
    overflows = []
    for width in range(320, 1400, 8):
        page.set_viewport_size({"width": width, "height": 844})
        layout = page.evaluate(LAYOUT)
        if layout["scrollWidth"] > layout["clientWidth"] or layout["cut"]:
            overflows.append((width, layout["scrollWidth"], layout["cut"][:2]))
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#custodians").screenshot(path=str(screenshot_dir / f"statement-{lang}-390-custodians.png"))
    page.close()
    assert not overflows, overflows


@pytest.mark.browser
def test_the_japanese_statement_is_drawn_in_a_cjk_font_not_tofu(doc, tmp_path, chromium, screenshot_dir):
    write_statement(doc, "ja", tmp_path / "out")
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    page.goto((tmp_path / "out" / "statement.html").as_uri())
    family = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert family.startswith('"Noto Sans CJK JP"'), family
    assert page.evaluate("document.fonts.check('16px \"Noto Sans CJK JP\"', '利用者暗号資産')")
    words = ["利用者暗号資産", "分別管理", "履行保証", "責任準備金", "販売所取引", "不適合"]
    chars, drawn, measured = glyphs_drawn(page, words)
    assert drawn == chars, f"drawn as the missing-glyph box: {sorted(set(chars) - set(drawn))}"
    assert len(set(measured["shots"])) == len(chars)
    page.locator("#probe").screenshot(path=str(screenshot_dir / "statement-japanese-glyphs.png"))
    page.close()


def test_the_simpler_clamp_reserve_shows_the_bound_that_set_the_requirement():
    """jp-fsa-clamp: 0.02 x ¥1,000 = ¥20, raised to the ¥2bn floor: the floor and the cap are on the page."""
    details = {"method": "clamp", "basis_jpy": "1000", "rate": "0.02", "formula_jpy": "20", "floor_jpy": "2000000000"}
    details |= {"cap_jpy": "40000000000", "rounding": "up", "reserve_deposits_jpy": "2000000000"}
    check = {"rule": "liability_reserve", "scope": "all", "ok": True, "unit": "JPY", "reason": None}
    check |= {"required": "2000000000", "actual": "2000000000", "details": details}
    doc = {"exchange": "X", "snapshot_id": "s", "verdict": "pass", "assets": [], "checks": [check]}
    rows = dict(statement(doc, "ja").reserve)
    assert (rows["floor"], rows["cap"], rows["formula"], rows["surplus"]) == ("2000000000", "40000000000", "20", "0")
    html = render_statement_html(statement(doc, "en"))
    assert "Floor" in html and "title='2000000000 JPY'" in html and "title='40000000000 JPY'" in html
