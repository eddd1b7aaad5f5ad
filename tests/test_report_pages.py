"""The audit report and the history page as people read them: amounts, rule names, the blocks read,
the reserve ratio over periods; and in Chromium at phone, tablet and desktop widths, in English and
Japanese: nothing cut off, no sideways scroll, the verdict and every failing rule with its shortfall
in the first screen, Japanese drawn with real glyphs (not tofu), chart labels readable."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import pytest
from eth_account import Account

from fixtures.liabilities import run_por
from fixtures.report_pages import LAYOUT, audit_document, audit_of, glyphs_drawn, history_folders
from por.audit.html import render_html, rule_words
from por.audit.report_style import FONT_STACK, Column, amount_html, card, grouped, report_page, table_html
from por.audit.summary import parse_audit_summary
from por.errors import InputError
from por.publication.history_html import render_history, reserves_by_period
from por.publication.verify import verify_chain

KEY = "5a" * 32
SIGNER = Account.from_key(bytes.fromhex(KEY)).address
WIDTHS = {390: 844, 768: 1024, 1280: 800}  # phone, tablet, desktop: viewport width -> first screen height


# --- amounts, rule names, sections (no browser) ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text, shown, cut",
    [
        ("1234567.120000000000000001", "1,234,567.12", True),
        ("98765.432109876543210987", "98,765.43210987", True),
        ("1234.5", "1,234.5", False),
        ("2000000000", "2,000,000,000", False),
        ("0.000000000000000007", "0.000000000000000007", False),  # a non-zero amount never shows as 0
        ("0", "0", False),
        ("<b>1</b>", "<b>1</b>", False),  # not a decimal: shown as it is
    ],
)
def test_amounts_are_grouped_trimmed_and_cut_only_visibly(text, shown, cut):
    assert grouped(text) == (shown, cut)


def test_an_amount_keeps_its_exact_value_and_unit_in_its_title():
    html = amount_html("98765.432109876543210987", "ETH")
    assert "title='98765.432109876543210987 ETH'" in html and "98,765.43210987…" in html and "more" in html
    assert "…" not in amount_html("1.5", "BTC") and "title='1.5 BTC'" in amount_html("1.5", "BTC")
    assert "&lt;img" in amount_html("<img src=x>", "<i>")


def test_rules_are_named_in_words_in_both_languages():
    assert rule_words("cold_storage", {"min_ratio": "0.95", "scope": "per_asset"}) == (
        "Cold storage ≥ 95%",
        "コールドウォレット管理 95%以上",
    )
    by_value = rule_words("cold_storage", {"min_ratio": "0.95", "scope": "total_jpy"})
    assert by_value == ("Cold storage ≥ 95% (by JPY value)", "コールドウォレット管理 95%以上（円換算）")
    assert rule_words("hot_guarantee", {"min_ratio": "1"})[1] == "履行保証暗号資産 100%以上"
    assert rule_words("liability_reserve", {}) == ("Liability reserve", "責任準備金")
    assert rule_words("coverage", {"min_ratio": "1"})[0] == "Reserves cover customer liabilities ≥ 100%"
    assert rule_words("custodians", {})[1] == "管理の委託先（登録事業者）・暗号資産管理システム提供業者（届出）"
    assert rule_words("made_up", None) == ("made_up", "made_up")


def test_the_failing_report_leads_with_every_failing_rule_and_its_exact_shortfall():
    doc = audit_document(insolvent=True)
    failing = [c for a in doc["assets"] for c in a["checks"] if not c["ok"]] + [c for c in doc["checks"] if not c["ok"]]
    assert len(failing) == 10
    page = render_html(doc)
    head = page[page.index("id='verdict'") : page.index("id='assets'")]
    for c in failing:
        short = Decimal(c["required"]) - Decimal(c["actual"])
        exact = format(short.normalize(), "f") if short != short.to_integral() else str(int(short))
        assert f"title='{exact} {c['unit']}'" in head, (c["rule"], c["scope"], exact)
    assert head.count("<li>") == 10 + len(doc["reasons"])  # the ten, then every reason in full, folded
    for rule in ("cold_storage", "hot_guarantee", "coverage", "liability_reserve"):
        assert f"<span class='rid'>{rule}</span>" in page  # the raw id stays beside its name
    assert "コールドウォレット管理 95%以上" in page and "履行保証暗号資産 100%以上" in page


def test_the_report_shows_height_block_hash_and_providers_per_chain():
    doc = audit_document(insolvent=False)
    page = render_html(doc)
    section = page[page.index("id='chains'") : page.index("id='liabilities'")]
    for info in doc["chains"].values():
        assert f"{info['height']:,}" in section and info["block_hash"] in section and info["providers"]
        for provider in info["providers"]:
            assert provider in section
    assert "PASS" in page[: page.index("id='assets'")]


def test_pages_name_the_cjk_fonts_and_their_language():
    assert FONT_STACK == '"Noto Sans CJK JP", "Hiragino Sans", "Yu Gothic", sans-serif'
    for lang in ("en", "ja"):
        page = render_html(audit_document(insolvent=True), lang=lang)
        assert page.startswith(f"<!doctype html>\n<html lang='{lang}'>") and FONT_STACK in page
        assert ("lang='ja'" if lang == "en" else "lang='en'") in page  # the other language beside it
        assert "<script" not in page and "default-src 'none'" in page
    with pytest.raises(ValueError):
        report_page("t", "", lang="fr")


def test_a_statement_can_be_written_in_the_reports_layout():
    """What another page (a segregation statement) uses: the frame, a card, a table, an amount."""
    table = table_html(
        [Column("Asset", "Asset / 資産"), Column("Held", "Held / 保有額", True)],
        [["BTC", amount_html("1234.500", "BTC")]],
    )
    page = report_page("分別管理の報告", card("Segregation", "分別管理", table, lang="ja", ident="seg"), lang="ja")
    assert "<html lang='ja'>" in page and "<section class='card' id='seg'><h2><span lang='ja'>分別管理</span>" in page
    assert "data-label='Held / 保有額'" in page and "1,234.5" in page and FONT_STACK in page


def test_an_audit_summary_is_read_strictly():
    doc = audit_document(insolvent=True, root="cd" * 32, snapshot_id="2026-05")
    summary = parse_audit_summary(json.loads(json.dumps(doc)), "a.json")
    assert summary.root == "cd" * 32 and summary.verdict == "fail" and summary.snapshot_id == "2026-05"
    assert summary.coverage["BTC"] == Fraction(doc["assets"][0]["coverage_ratio"])
    for broken in (
        {**doc, "format": "por-commitment"},
        {**doc, "liabilities": {"root": "xyz"}},
        {**doc, "assets": [{"asset": "BTC", "coverage_ratio": "1e3"}]},
    ):
        with pytest.raises(InputError):
            parse_audit_summary(broken, "a.json")


@pytest.fixture(scope="module")
def periods(tmp_path_factory):
    root = tmp_path_factory.mktemp("periods")
    folders = history_folders(root)
    audits = []
    for i, spec in enumerate([(False, 97), (False, 96), (True, 90), None, (False, 95), (True, 88)]):
        if spec is None:
            continue  # 2026-04: no audit report, reserves not known
        path = root / f"audit-{i}.json"
        path.write_text(json.dumps(audit_of(folders[i], insolvent=spec[0], cold_percent=spec[1])))
        audits.append(path)
    return root, folders, audits


def test_history_plots_the_reserve_ratio_of_audited_periods_and_says_which_are_not_known(periods, tmp_path):
    root, folders, audits = periods
    out = tmp_path / "h.html"
    code, _, err = run_por(
        "history", *folders, "--signer", SIGNER, "--html", out, *[a for p in audits for a in ("--audit", p)]
    )
    assert code == 0, err
    page = out.read_text()
    assert "Reserve ratio known for 5 of 6 periods" in page and "Not known for: 2026-04." in page
    assert "aria-labelledby='ratio-t ratio-d'" in page and "reserve ratio, % of liabilities" in page
    ratio = page[page.index("<svg class='chart' role='img' aria-labelledby='ratio-t") :]
    ratio = ratio[: ratio.index("</svg>")]
    assert ratio.count("<circle") == 5 * 3  # five audited periods, three assets
    assert "100%" in ratio and "2026-04 BTC: not known" in ratio
    first = json.loads(audits[0].read_text())["assets"][0]
    whole, frac = first["coverage_ratio"].split(".")
    assert f">{int(whole + frac[:2])}.{frac[2:4]}%<" in page  # 1.019999 shows 101.99%: cut, not rounded

    code, _, err = run_por("history", *folders, "--html", out)
    assert code == 1 and "Reserves are not known for any of these periods" in out.read_text()
    assert out.read_text().count("<svg") == 3  # liabilities only: one chart per asset


def test_an_audit_of_another_commitment_is_not_plotted(periods, tmp_path):
    root, folders, audits = periods
    doc = json.loads(audits[0].read_text())
    doc["liabilities"]["root"] = "ee" * 32
    other = tmp_path / "other.json"
    other.write_text(json.dumps(doc))
    report = verify_chain(folders, SIGNER, trees=False)
    found = reserves_by_period(report, [parse_audit_summary(doc, str(other))])
    assert found.audits == [None] * 6 and "another commitment, not used" in found.notes[0]
    page = render_history(report, signer=SIGNER, audits=[parse_audit_summary(doc, str(other))])
    assert "another commitment, not used" in page and "Reserves are not known for any" in page
    code, _, err = run_por("history", *folders, "--audit", other)
    assert code == 2 and "--html" in err
    code, _, err = run_por("history", *folders, "--html", tmp_path / "x.html", "--lang", "fr")
    assert code == 2 and "--lang" in err


# --- in Chromium ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pages(periods, tmp_path_factory):
    """Every page under test, written as `por` writes them."""
    folder = tmp_path_factory.mktemp("pages")
    root, folders, audits = periods
    out = {}
    for lang in ("en", "ja"):
        for state in ("fail", "pass"):
            path = folder / f"audit-{state}-{lang}.html"
            path.write_text(render_html(audit_document(insolvent=state == "fail"), lang=lang), encoding="utf-8")
            out[f"audit-{state}-{lang}"] = path
        path = folder / f"history-{lang}.html"
        code, _, err = run_por(
            "history",
            *folders,
            "--signer",
            SIGNER,
            "--html",
            path,
            "--lang",
            lang,
            *[a for p in audits for a in ("--audit", p)],
        )
        assert code == 0, err
        out[f"history-{lang}"] = path
    path = folder / "history-no-audit-en.html"
    run_por("history", *folders, "--html", path)
    out["history-no-audit-en"] = path
    return out


@pytest.mark.browser
@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize(
    "name",
    [
        "audit-fail-en",
        "audit-fail-ja",
        "audit-pass-en",
        "audit-pass-ja",
        "history-en",
        "history-ja",
        "history-no-audit-en",
    ],
)
def test_pages_fit_every_width_with_nothing_cut_off(pages, name, width, chromium, screenshot_dir):
    page = chromium.new_page(viewport={"width": width, "height": WIDTHS[width]})
    page.goto(pages[name].as_uri())
    layout = page.evaluate(LAYOUT)
    page.screenshot(path=str(screenshot_dir / f"report-{name}-{width}.png"), full_page=True)
    page.close()
    assert layout["scrollWidth"] <= layout["clientWidth"], layout
    assert not layout["cut"], layout["cut"][:5]
    assert not layout["small"], layout["small"][:5]  # no chart label under 11 px
    assert layout["wideSvgs"] == 0
    assert layout["lang"] == name.split("-")[-1]


@pytest.mark.browser
@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_verdict_and_every_failing_rule_with_its_shortfall_are_in_the_first_screen(
    pages, lang, width, chromium, screenshot_dir
):
    page = chromium.new_page(viewport={"width": width, "height": WIDTHS[width]})
    page.goto(pages[f"audit-fail-{lang}"].as_uri())
    assert page.locator("#verdict h1").inner_text().startswith("FAIL" if lang == "en" else "不適合")
    items = page.locator("#failing li")
    assert items.count() == 10
    for i in range(items.count()):
        box = items.nth(i).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= WIDTHS[width], (i, box)
        short = items.nth(i).locator(".short .amt")
        assert short.count() == 1 and short.inner_text().strip()[0].isdigit()
        assert short.bounding_box()["y"] + short.bounding_box()["height"] <= WIDTHS[width]
    page.screenshot(path=str(screenshot_dir / f"report-audit-fail-{lang}-{width}-first-screen.png"))
    page.close()


@pytest.mark.browser
def test_japanese_is_drawn_with_glyphs_not_tofu(pages, chromium, screenshot_dir):
    """Each Japanese character drawn in the page's own fonts must differ from a character no font has
    (U+0378, unassigned: drawn as the missing-glyph box) and from each other: tofu is all one box."""
    page = chromium.new_page(viewport={"width": 1000, "height": 400})
    page.goto(pages["audit-fail-ja"].as_uri())
    family = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert family.startswith('"Noto Sans CJK JP"'), family
    words = ["履行保証暗号資産", "不適合", "コールドウォレット管理"]
    chars, drawn, measured = glyphs_drawn(page, words)
    assert drawn == chars, f"drawn as the missing-glyph box: {sorted(set(chars) - set(drawn))}"
    assert len(set(measured["shots"])) == len(chars)  # every character its own glyph
    assert all(w > 0 for pair in measured["boxes"] for w in pair)
    page.locator("#probe").screenshot(path=str(screenshot_dir / "report-japanese-glyphs.png"))
    page.close()
