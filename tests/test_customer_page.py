"""A publication's own verify.html, as its customers use it (issue 15).

`publish` embeds the publication's commitment (and the exchange's contact) in the page it
writes, and a manifest.json of every public file's SHA-256. The embedded commitment comes
from the exchange, as the page does: a proof that recomputes to it is amber ("included in the
commitment this page carries: compare the fingerprint") until the customer compares the
fingerprint, types a root or pins the signing key. The page speaks English and Japanese, fits
a phone, and is driven here by keyboard alone. Screenshots go to tests/artifacts/customer/.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from fixtures.liabilities import run_por
from fixtures.sample import write_customers
from por.liabilities.folder import not_a_publication
from por.publication.attestation import publication_page, verifier_page

ARTIFACTS = Path(os.environ.get("POR_TEST_ARTIFACTS", Path(__file__).parent / "artifacts")) / "customer"
KEY = "3c" * 32
ADDRESS = Account.from_key(bytes.fromhex(KEY)).address
CONTACT = "support@example.com"
WIDTHS = [390, 768, 1280]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A signed publication with a contact, an unsigned one of the same customers, and two proofs."""
    root = tmp_path_factory.mktemp("customer")
    (root / "key.hex").write_text(KEY)
    customers = write_customers(root / "customers.csv", 30, seed=11)
    for name, extra in (("signed", ["--sign-key", root / "key.hex", "--contact", CONTACT]), ("unsigned", [])):
        code, out, err = run_por(
            "publish",
            customers,
            "--exchange",
            "Example Exchange",
            "--out",
            root / name,
            "--snapshot-id",
            "2026-05",
            "--snapshot-time",
            "2026-05-31T00:00:00Z",
            *extra,
        )
        assert code == 0, err
        (root / f"{name}.out").write_text(out)
    for account in ("user-0000003", "user-0000004"):
        code, _, err = run_por("prove", root / "signed", account, "--out", root / f"{account}.json")
        assert code == 0, err
    return root


def root_of(folder: Path) -> str:
    return json.loads((folder / "commitment.json").read_text())["root"]


# --- publish: the page it writes, and the manifest ------------------------------------------


def test_publish_embeds_the_commitment_and_contact_and_writes_a_manifest_it_prints(site):
    folder = site / "signed"
    page = (folder / "verify.html").read_bytes()
    assert page == publication_page((folder / "commitment.json").read_text(encoding="utf-8"), CONTACT)
    assert page != verifier_page() and (folder / "verify.html").stat().st_size < 250_000
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["format"] == "por-manifest" and manifest["root"] == root_of(folder)
    assert [f["file"] for f in manifest["files"]] == ["commitment.json", "tree.bin", "verify.html"]
    printed = (site / "signed.out").read_text()
    for entry in manifest["files"]:
        data = (folder / entry["file"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)
        assert f"  {entry['sha256']}  {entry['file']}" in printed
    page_digest = hashlib.sha256(page).hexdigest()
    assert page_digest not in (folder / "commitment.json").read_text()  # no cycle: the page holds the commitment


def test_a_folder_with_a_manifest_is_still_a_publication_that_force_replaces(site, tmp_path):
    assert not_a_publication(site / "signed") == ""
    out = tmp_path / "pub"
    args = ["publish", site / "customers.csv", "--exchange", "Example Exchange", "--out", out, "--snapshot-id", "s1"]
    assert run_por(*args)[0] == 0 and (out / "manifest.json").exists()
    code, _, err = run_por(*args[:-1], "s2", "--force")
    assert code == 0, err
    assert json.loads((out / "manifest.json").read_text())["snapshot_id"] == "s2"
    (out / "notes.txt").write_text("mine")
    assert run_por(*args, "--force")[0] == 2  # a folder holding something else is the user's


@pytest.mark.parametrize("contact", ["", "a\nb", "x" * 201, "tel\u202e:123", "\u200b"])
def test_publish_refuses_a_contact_that_is_not_one_visible_line(site, tmp_path, contact):
    code, _, err = run_por(
        "publish", site / "customers.csv", "--exchange", "Ex", "--out", tmp_path / "p", "--contact", contact
    )
    assert code == 2 and "--contact" in err and "Traceback" not in err
    assert not (tmp_path / "p").exists()


def test_embedded_text_cannot_close_the_data_block():
    page = publication_page('{"x": "</script><script>alert(1)</script>"}', "a</script>&<!--\u2028")
    block = page.split(b'id="por-publication">', 1)[1].split(b"</script>", 1)[0]
    assert b"<" not in block and b">" not in block and b"&" not in block and "\u2028".encode() not in block
    data = json.loads(block)
    assert data == {
        "format": "por-page-data",
        "version": 1,
        "commitment": '{"x": "</script><script>alert(1)</script>"}',
        "contact": "a</script>&<!--\u2028",
    }


# --- the customer's flow in Chromium ----------------------------------------------------------


def open_page(chromium, url: str, width: int = 390, locale: str = "en-US", touch: bool | None = None):
    touch = width < 700 if touch is None else touch
    context = chromium.new_context(
        viewport={"width": width, "height": 844 if width < 700 else 900},
        locale=locale,
        has_touch=touch,
        is_mobile=touch,
    )
    page = context.new_page()
    page.errors = []
    page.requests = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("request", lambda request: page.requests.append(request.url))
    page.goto(url)
    return context, page


def close(context, page) -> None:
    assert all(url.startswith("file://") for url in page.requests), page.requests
    assert not page.errors, page.errors
    context.close()


def settle(page) -> dict[str, Any]:
    page.wait_for_selector("body[data-status]:not([data-status='idle'])", state="attached")
    return page.evaluate("window.porLastResult")


def choose(page, path: Path) -> dict[str, Any]:
    page.evaluate("document.body.dataset.status = 'idle'")
    page.set_input_files("#proof-file", str(path))
    return settle(page)


def rerun(page, action) -> dict[str, Any]:
    page.evaluate("document.body.dataset.status = 'idle'")
    action()
    return settle(page)


def no_green(page) -> None:
    assert page.locator(".status.verified, .pill.match, .sig.verified").count() == 0
    assert "\u2713" not in page.locator("[data-testid=status] .icon").inner_text()


def no_overflow(page) -> None:
    width = page.evaluate("document.documentElement.clientWidth")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    wide = page.evaluate(
        """(w) => [...document.querySelectorAll('body *')].filter((e) => {
        const r = e.getBoundingClientRect(); return r.width > 0 && (r.right > w + 0.5 || r.left < -0.5);
    }).map((e) => e.tagName + '#' + e.id + '.' + e.className).slice(0, 5)""",
        width,
    )
    assert wide == [], wide


def shot(page, name: str, full: bool = False) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full)


def test_a_proof_on_its_own_page_is_amber_until_the_fingerprint_is_compared(chromium, site):
    context, page = open_page(chromium, (site / "signed" / "verify.html").as_uri(), 1280)
    root = root_of(site / "signed")
    fingerprint = page.locator("[data-testid=fingerprint]")
    assert fingerprint.inner_text() == root  # copies as one hex string, shown in groups of 4
    assert fingerprint.locator("span").all_inner_texts() == [root[i : i + 4] for i in range(0, 64, 4)]
    assert "Example Exchange" in page.locator("[data-testid=publine]").inner_text()
    assert ADDRESS in page.locator("[data-testid=pub-facts]").inner_text()
    result = choose(page, site / "user-0000003.json")
    assert result["state"] == "unconfirmed" and not result["verified"] and result["anchor"] is None
    assert (
        page.locator("[data-testid=status] h3").inner_text()
        == "Included in the commitment this page carries: compare the fingerprint"
    )
    assert page.locator("[data-testid=reasons]").count() == 0  # the headline says it
    assert CONTACT in page.locator("[data-testid=next]").inner_text()
    no_green(page)
    shot(page, "embedded-amber-1280")
    result = rerun(page, lambda: page.check("#fingerprint-ok"))
    assert (
        result["state"] == "verified"
        and result["anchor"] == "the commitment this page carries, whose fingerprint you compared"
    )
    assert page.locator("[data-testid=status] h3").inner_text() == "Verified: your balances are included"
    shot(page, "embedded-verified-1280")
    result = rerun(page, lambda: page.uncheck("#fingerprint-ok"))
    assert result["state"] == "unconfirmed"
    close(context, page)


def test_a_root_or_key_the_customer_supplies_anchors_it_and_a_wrong_one_fails(chromium, site):
    context, page = open_page(chromium, (site / "signed" / "verify.html").as_uri(), 1280)
    page.evaluate("document.getElementById('pins').open = true")
    choose(page, site / "user-0000003.json")
    root = root_of(site / "signed")
    result = rerun(page, lambda: page.fill("#root", root.upper()))
    assert result["state"] == "verified" and result["anchor"] == "the root you typed"
    result = rerun(page, lambda: page.fill("#root", root_of(site / "unsigned")))
    assert result["state"] == "failed"
    assert result["reasons"] == [
        f"the root you typed {root_of(site / 'unsigned')} is not the root of the commitment this page carries {root}"
    ]
    assert CONTACT in page.locator("[data-testid=next]").inner_text()
    no_green(page)
    shot(page, "embedded-wrong-root-1280")
    page.fill("#root", "")
    result = rerun(page, lambda: page.fill("#signer", ADDRESS))
    assert result["state"] == "verified" and result["anchor"] == "the signing key you pinned"
    assert result["signature"]["state"] == "verified"
    other = Account.from_key(bytes.fromhex("c3" * 32)).address
    result = rerun(page, lambda: page.fill("#signer", other))
    assert result["state"] == "failed" and f"not by the pinned key {other.lower()}" in result["reasons"][-1]
    no_green(page)
    page.fill("#signer", "")
    # a commitment the customer loads replaces the page's own: another tree's fails
    result = rerun(page, lambda: page.set_input_files("#commitment-file", str(site / "unsigned" / "commitment.json")))
    assert result["state"] == "failed" and any("is not the commitment's root" in r for r in result["reasons"])
    close(context, page)


def test_a_page_carrying_another_publication_fails_the_proof(chromium, site, tmp_path):
    """An exchange that hands out a page of another tree: the proof does not recompute to its commitment."""
    forged = tmp_path / "verify.html"
    forged.write_bytes(publication_page((site / "unsigned" / "commitment.json").read_text(), CONTACT))
    context, page = open_page(chromium, forged.as_uri(), 1280)
    result = choose(page, site / "user-0000003.json")
    assert result["state"] == "failed" and any("is not the commitment's root" in r for r in result["reasons"])
    assert rerun(page, lambda: page.check("#fingerprint-ok"))["state"] == "failed"
    no_green(page)
    close(context, page)
    broken = tmp_path / "broken.html"
    broken.write_bytes(
        verifier_page().replace(
            b'id="por-publication"></script>', b'id="por-publication">{"format": "por-page-data"}</script>'
        )
    )
    context, page = open_page(chromium, broken.as_uri(), 1280)
    assert "could not be read" in page.locator("[data-testid=publine]").inner_text()
    result = choose(page, site / "user-0000003.json")
    assert result["state"] == "error"
    close(context, page)


def test_a_tampered_proof_tells_the_customer_what_to_do_next(chromium, site, tmp_path):
    doc = json.loads((site / "user-0000003.json").read_text())
    doc["nonce"] = ("0" if doc["nonce"][0] != "0" else "1") + doc["nonce"][1:]  # another customer's nonce
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    for locale, headline, contact_phrase in (
        ("en-US", "Not verified: your proof does not match", "contact the exchange"),
        ("ja-JP", "確認できませんでした：証明が一致しません", "取引所（"),
    ):
        context, page = open_page(chromium, (site / "signed" / "verify.html").as_uri(), 390, locale)
        result = choose(page, tampered)
        assert result["state"] == "failed"
        assert page.locator("[data-testid=status] h3").inner_text() == headline
        next_step = page.locator("[data-testid=next]").inner_text()
        assert contact_phrase in next_step and CONTACT in next_step and "por " not in next_step
        no_green(page)
        assert page.locator("[data-testid=status]").bounding_box()["y"] < 844  # the verdict in the first screen
        shot(page, f"embedded-tampered-390-{locale[:2]}")
        close(context, page)
    context, page = open_page(chromium, (site / "signed" / "verify.html").as_uri(), 390)
    junk = tmp_path / "photo.json"
    junk.write_text('{"not": "a proof"}\n')
    result = choose(page, junk)
    assert result["state"] == "failed"
    assert page.locator("[data-testid=status] h3").inner_text() == "Not verified: this file is not a readable proof"
    assert "download it again" in page.locator("[data-testid=next]").inner_text()
    close(context, page)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("locale", ["en-US", "ja-JP"])
def test_the_page_fits_every_width_in_both_languages(chromium, site, width, locale):
    context, page = open_page(chromium, (site / "signed" / "verify.html").as_uri(), width, locale)
    lang = locale[:2]
    assert page.evaluate("document.documentElement.lang") == lang
    assert page.locator("#lang-" + lang).get_attribute("aria-pressed") == "true"
    no_overflow(page)
    shot(page, f"open-{width}-{lang}")
    amber = choose(page, site / "user-0000004.json")
    assert amber["state"] == "unconfirmed"
    status = page.locator("[data-testid=status]").bounding_box()
    assert status["y"] + 40 < page.viewport_size["height"], status  # the headline in the first screen
    no_overflow(page)
    shot(page, f"amber-{width}-{lang}")
    assert rerun(page, lambda: page.check("#fingerprint-ok"))["state"] == "verified"
    page.evaluate("for (const d of document.querySelectorAll('details')) d.open = true")  # everything unfolded
    no_overflow(page)
    shot(page, f"verified-{width}-{lang}-full", full=True)
    close(context, page)


def test_keyboard_alone_chooses_the_proof_confirms_and_switches_language(chromium, site):
    context, page = open_page(chromium, (site / "signed" / "verify.html").as_uri(), 768, "en-US", touch=False)
    assert page.get_attribute("#result", "aria-live") == "polite"
    page.on("filechooser", lambda chooser: None)  # playwright intercepts the dialog from the first key press on
    order = []
    for _ in range(8):
        page.keyboard.press("Tab")
        order.append(page.evaluate("document.activeElement.id || document.activeElement.tagName"))
        if order[-1] == "proof-file":
            break
    assert order[:3] == ["lang-en", "lang-ja", "proof-file"], order
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    page.evaluate("document.body.dataset.status = 'idle'")
    chooser.value.set_files(str(site / "user-0000003.json"))
    assert settle(page)["state"] == "unconfirmed"
    assert "compare the fingerprint" in page.locator("#result").inner_text()  # what aria-live announces
    page.focus("#fingerprint-ok")
    page.evaluate("document.body.dataset.status = 'idle'")
    page.keyboard.press("Space")
    assert settle(page)["state"] == "verified"
    page.focus("#lang-ja")
    page.keyboard.press("Enter")
    assert page.evaluate("document.documentElement.lang") == "ja"
    assert page.locator("[data-testid=status] h3").inner_text() == "確認できました：あなたの残高は含まれています"
    page.focus("[data-testid=technical] summary")
    page.keyboard.press("Enter")
    assert page.locator("[data-testid=technical]").get_attribute("open") is not None
    close(context, page)


def test_touch_devices_say_choose_file_and_desktops_offer_a_drop(chromium, site):
    context, page = open_page(chromium, (site / "signed" / "verify.html").as_uri(), 390, touch=True)
    assert page.locator("#pick-text").inner_text() == "Choose file" and not page.locator("#drop-hint").is_visible()
    assert "private" in page.locator("[data-testid=private]").inner_text()
    close(context, page)
    context, page = open_page(chromium, (site / "signed" / "verify.html").as_uri(), 1280, touch=False)
    assert page.locator("#pick-text").inner_text() == "Choose your proof file"
    assert page.locator("#drop-hint").is_visible()
    close(context, page)


def test_the_generic_page_still_asks_for_what_was_published(chromium, site):
    generic = Path(__file__).parents[1] / "por" / "web" / "verifier.html"
    context, page = open_page(chromium, generic.as_uri(), 390)
    assert page.locator("[data-testid=fingerprint-card]").is_hidden()
    assert page.locator("#pins").get_attribute("open") is not None
    result = choose(page, site / "user-0000003.json")
    assert result["state"] == "self-consistent"
    no_green(page)
    shot(page, "generic-amber-390")
    close(context, page)


# --- the on-chain anchor, once `por anchor` recorded it ---------------------------------------


def anchored_copy(site: Path, tmp_path: Path, digest: str | None = None) -> tuple[Path, dict]:
    """A copy of the signed publication with an anchor embedded as `por anchor` does (anchor.json's fields)."""
    import shutil

    from por.publication.attestation import embed_anchor

    folder = tmp_path / "anchored"
    shutil.copytree(site / "signed", folder)
    signed = json.loads((folder / "commitment.json").read_text())["signature"]["digest"]
    anchor = {
        "format": "por-anchor",
        "version": 1,
        "chain": "ethereum",
        "exchange": ADDRESS,
        "registry": "0x" + "ab" * 20,
        "snapshot_id": "2026-05",
        "digest": digest or signed,
        "transaction": "0x" + "cd" * 32,
        "block": 1234,
        "block_hash": "0x" + "ef" * 32,
    }
    assert embed_anchor(folder, anchor)
    return folder, anchor


def test_anchoring_embeds_the_anchor_in_the_page_and_the_manifest_follows(site, tmp_path):
    folder, anchor = anchored_copy(site, tmp_path)
    page = (folder / "verify.html").read_bytes()
    assert page != (site / "signed" / "verify.html").read_bytes()
    start = page.index(b'<script type="application/json" id="por-publication">')
    block = page[start : page.index(b"</script>", start)]  # the page's code names block_hash (a proof's anchor)
    assert b'"transaction": "0x' + b"cd" * 32 + b'"' in block and b"block_hash" not in block
    manifest = json.loads((folder / "manifest.json").read_text())
    entry = next(f for f in manifest["files"] if f["file"] == "verify.html")
    assert entry["sha256"] == hashlib.sha256(page).hexdigest()  # the manifest is of the new page
    from por.publication.attestation import embed_anchor

    assert embed_anchor(folder, anchor) and (folder / "verify.html").read_bytes() == page  # idempotent
    generic = tmp_path / "generic"
    generic.mkdir()
    (generic / "verify.html").write_bytes(verifier_page())
    assert not embed_anchor(generic, anchor) and (generic / "verify.html").read_bytes() == verifier_page()


def test_a_bitcoin_anchor_is_embedded_with_its_address_and_shown(chromium, site, tmp_path):
    """A Bitcoin anchor has no registry: the page shows the anchor address it is spent from and its txid."""
    import shutil

    from por.publication.attestation import embed_anchor

    folder = tmp_path / "btc"
    shutil.copytree(site / "signed", folder)
    signed = json.loads((folder / "commitment.json").read_text())["signature"]["digest"]
    anchor = {
        "format": "por-anchor",
        "version": 1,
        "chain": "bitcoin",
        "address": "rb1qexampleanchoraddress0000000000000000",
        "exchange": "Acme",
        "snapshot_id": "2026-05",
        "digest": signed,
        "transaction": "ab" * 32,
        "block": 321,
        "block_hash": "cd" * 32,
    }
    assert embed_anchor(folder, anchor)
    context, page = open_page(chromium, (folder / "verify.html").as_uri(), 390)
    facts = page.locator("[data-testid=pub-facts]").inner_text()
    assert anchor["address"] in facts and anchor["transaction"] in facts and "321" in facts
    assert "OP_RETURN" in page.locator("[data-testid=anchor-note]").inner_text()
    assert choose(page, site / "user-0000003.json")["state"] == "unconfirmed"  # shown, never checked
    no_overflow(page)
    shot(page, "anchored-bitcoin-390-en", full=True)
    close(context, page)


def test_the_page_shows_the_anchor_to_look_up_and_never_counts_it_as_checked(chromium, site, tmp_path):
    folder, anchor = anchored_copy(site, tmp_path)
    for locale, word in (("en-US", "explorer"), ("ja-JP", "エクスプローラー")):
        context, page = open_page(chromium, (folder / "verify.html").as_uri(), 390, locale=locale)
        facts = page.locator("[data-testid=pub-facts]").inner_text()
        assert anchor["transaction"] in facts and anchor["digest"] in facts and "1234" in facts
        assert word in page.locator("[data-testid=anchor-note]").inner_text()
        result = choose(page, site / "user-0000003.json")
        assert result["state"] == "unconfirmed"  # shown, not checked: still amber
        no_overflow(page)
        assert page.evaluate("document.documentElement.scrollHeight") < 3500  # long hex wraps across the card
        shot(page, f"anchored-390-{locale[:2]}", full=True)
        close(context, page)
    other, _ = anchored_copy(site, tmp_path / "x", digest="00" * 32)
    context, page = open_page(chromium, (other / "verify.html").as_uri(), 1280)
    note = page.locator("[data-testid=anchor-note]")
    assert "not this commitment's" in note.inner_text() and "warn" in note.get_attribute("class")
    close(context, page)
