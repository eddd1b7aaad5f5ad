"""The offline verifier page (por/web/verifier.html) in Debian's headless Chromium.

The page is opened from a publication folder over file://, exactly as a customer
would, and driven through its file picker, drag and drop and paste. Its verdicts
are compared with the Python verifier's on random trees and edited proofs, and
on OKX's genuine files and edited copies. Screenshots go to tests/artifacts/web/
(or $POR_TEST_ARTIFACTS/web/).
"""

from __future__ import annotations

import copy
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from chains.eip191 import recover_text_signer
from fixtures.liabilities import random_liabilities, run_por
from fixtures.sample import write_customers
from por.errors import InputError
from por.liabilities.porjson import dumps, parse_commitment
from por.liabilities.prove import cut_proof
from por.liabilities.publish import publish
from por.strictjson import load_file

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("POR_TEST_ARTIFACTS", Path(__file__).parent / "artifacts")) / "web"
OKX = next(
    p
    for p in (
        Path(__file__).parents[1] / "fixtures/conformance/okx",
        Path(__file__).parents[2] / "shared/conformance/okx",
    )
    if p.exists()
)
KEY, OTHER = "3c" * 32, "c3" * 32
GENERIC = Path(__file__).parents[1] / "por" / "web" / "verifier.html"  # the page with no publication embedded
ADDRESS = Account.from_key(bytes.fromhex(KEY)).address


@pytest.fixture(scope="module")
def browser(chromium):
    """conftest's one Chromium (it never skips), under the name this module's fixtures use."""
    return chromium


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A signed publication (with its verify.html), one unsigned, and proofs cut from them."""
    root = tmp_path_factory.mktemp("web")
    (root / "key.hex").write_text(KEY)
    customers = write_customers(root / "customers.csv", 40, seed=5)
    for name, extra in (("signed", ["--sign-key", root / "key.hex"]), ("unsigned", [])):
        code, _, err = run_por(
            "publish",
            customers,
            "--exchange",
            "Ex",
            "--out",
            root / name,
            "--snapshot-id",
            "2026-05",
            "--snapshot-time",
            "2026-05-31T00:00:00Z",
            "--split",
            "2",
            *extra,
        )
        assert code == 0, err
    for account in ("user-0000007", "user-0000012"):
        code, _, err = run_por("prove", root / "signed", account, "--out", root / f"{account}.json")
        assert code == 0, err
    return root


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.requests = []
    page.errors = []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(GENERIC.as_uri())
    yield page
    assert all(url.startswith("file://") for url in page.requests), page.requests  # nothing leaves the page
    assert not page.errors, page.errors
    context.close()


def shot(page, name: str, *, verdict: bool = False) -> None:
    """A full-page screenshot; with `verdict`, also one screen from the verdict down (what a customer sees first)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    if verdict:
        # one script, so a verdict the page re-renders meanwhile is never a detached element
        page.evaluate("document.getElementById('result').scrollIntoView({block: 'start'})")
        page.screenshot(path=str(ARTIFACTS / f"{name}-verdict.png"))


def settle(page) -> dict[str, Any]:
    page.wait_for_selector(
        "body[data-status]:not([data-status='idle'])", state="attached"
    )  # no eval: the CSP forbids it
    return page.evaluate("window.porLastResult")


def load(page, how: str, text: str, name: str = "proof.json") -> dict[str, Any]:
    page.evaluate("document.body.dataset.status = 'idle'")
    if how == "file":
        page.set_input_files(
            "#proof-file", files=[{"name": name, "mimeType": "application/json", "buffer": text.encode("utf-8")}]
        )
    elif how == "drop":
        page.evaluate(
            """([name, text]) => {
            const dt = new DataTransfer();
            dt.items.add(new File([text], name, {type: "application/json"}));
            const drop = new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true});
            document.getElementById("proof-drop").dispatchEvent(drop);
        }""",
            [name, text],
        )
    else:
        page.evaluate("document.getElementById('more').open = true")  # the paste box is folded away
        page.fill("#proof-text", text)
        page.click("#verify")
    return settle(page)


def pin_commitment(page, path: Path) -> None:
    """Loads commitment.json through the picker and waits until the page has read it."""
    page.evaluate("document.getElementById('commitment-name').textContent = ''")
    page.set_input_files("#commitment-file", str(path))
    page.wait_for_selector(f"#commitment-name:text-is('{path.name}')")


def recheck(page) -> dict[str, Any]:
    """Runs the check again now that every input is in place (as the Verify button does)."""
    page.evaluate("document.body.dataset.status = 'idle'; document.getElementById('more').open = true")
    page.click("#verify")
    return settle(page)


def open_technical(page) -> None:
    page.evaluate("for (const d of document.querySelectorAll('details.tech')) d.open = true")


def reasons_shown(page) -> list[str]:
    return page.locator("[data-testid=reasons] li").all_inner_texts()


def proof_doc(site: Path, account: str = "user-0000007") -> dict[str, Any]:
    return json.loads((site / f"{account}.json").read_text())


# --- a customer's checks, through the page ---------------------------------------------


def test_a_valid_proof_shows_verified_with_exact_balances_and_checked_signature(page, site):
    pin_commitment(page, site / "signed" / "commitment.json")
    page.fill("#signer", ADDRESS)
    doc = proof_doc(site)
    result = load(page, "file", (site / "user-0000007.json").read_text(), "user-0000007.json")
    assert result["state"] == "verified" and result["reasons"] == []
    assert result["balances"] == list(map(list, doc["balances"].items()))  # exact decimal strings
    assert result["signature"]["state"] == "verified"
    assert page.locator("[data-testid=status] h3").inner_text() == "Verified: your balances are included"
    # the cells of the table in the page now: the verdict is drawn again when the signature check
    # ends, and the rows of a table replaced meanwhile lose their layout (innerText without tabs)
    rows = page.evaluate(
        "() => [...document.querySelectorAll('table.balances tbody tr')]"
        ".map((row) => [...row.cells].map((cell) => cell.textContent))"
    )
    assert rows == [[a, v] for a, v in doc["balances"].items()]
    assert page.locator("[data-testid=step]").count() == sum(len(leaf["path"]) for leaf in doc["leaves"])
    assert page.locator("[data-testid=root-step].bad").count() == 0
    open_technical(page)
    page.wait_for_timeout(400)  # past the 250 ms the page waits after typing (#signer): no second drawing
    assert "verified: signed by the pinned key" in page.locator("[data-testid=signature]").inner_text()
    shot(page, "por-verified")


def test_without_a_published_root_it_is_only_self_consistent_in_amber(page, site):
    """Nothing pinned: every hash recomputes, but the page must not say verified (issue 12: fail closed)."""
    result = load(page, "paste", (site / "user-0000012.json").read_text().rstrip("\n"))
    assert result["state"] == "self-consistent" and result["verified"] is False and result["anchor"] is None
    assert result["reasons"] == [
        "self-consistent, but nothing to compare it with: no published commitment or root was given"
    ]
    assert any("Load the commitment.json the exchange published" in n for n in result["notes"])
    assert page.locator("[data-testid=status] h3").inner_text() == "Not verified yet: nothing to compare it with"
    assert_no_green(page)
    open_technical(page)
    assert page.locator("[data-testid=root-value]").inner_text() == proof_doc(site, "user-0000012")["root"]["hash"]
    shot(page, "por-self-consistent")


def assert_no_green(page) -> None:
    """No green tick, pill or headline anywhere when the verdict is not VERIFIED."""
    assert page.locator("[data-testid=status]").get_attribute("data-state") != "verified"
    assert page.locator(".status.verified, .pill.match, .sig.verified").count() == 0
    assert "\u2713" not in page.locator("[data-testid=status] .icon").inner_text()


def _bump(amount: str) -> str:
    whole, dot, frac = amount.partition(".")
    return str(int(whole) + 1) + dot + frac


def _flip(hex_text: str, at: int = 5) -> str:
    return hex_text[:at] + ("0" if hex_text[at] != "0" else "1") + hex_text[at + 1 :]


def tamper_balance(doc):
    symbol = next(iter(doc["balances"]))
    doc["leaves"][0]["balances"][symbol] = _bump(doc["leaves"][0]["balances"][symbol])
    doc["balances"][symbol] = _bump(doc["balances"][symbol]) if len(doc["leaves"]) == 1 else doc["balances"][symbol]
    if len(doc["leaves"]) > 1:  # keep the declared total consistent
        doc["balances"][symbol] = _sum_text(doc, symbol)
    return "path does not recompute the root"


def _sum_text(doc, symbol):
    from por.amounts import format_amount, parse_amount

    decimals = {a["symbol"]: a["decimals"] for a in doc["assets"]}[symbol]
    return format_amount(sum(parse_amount(leaf["balances"][symbol], decimals) for leaf in doc["leaves"]), decimals)


def tamper_sibling(doc):
    doc["leaves"][0]["path"][-1]["hash"] = _flip(doc["leaves"][0]["path"][-1]["hash"])
    return "path does not recompute the root"


def tamper_nonce(doc):
    doc["nonce"] = _flip(doc["nonce"], 0)
    return "path does not recompute the root"


def tamper_root_sums(doc):
    symbol = next(iter(doc["root"]["sums"]))
    doc["root"]["sums"][symbol] = _bump(doc["root"]["sums"][symbol])
    return "path sums do not add up to the root's sums"


@pytest.mark.parametrize("tamper", [tamper_balance, tamper_sibling, tamper_nonce, tamper_root_sums])
def test_a_tampered_proof_shows_what_failed(page, site, tamper):
    pin_commitment(page, site / "signed" / "commitment.json")
    doc = proof_doc(site)
    expected = tamper(doc)
    result = load(page, "file", dumps(doc), "tampered.json")
    assert result["state"] == "failed"
    shown = reasons_shown(page)
    assert shown == result["reasons"] and any(expected in r for r in shown), shown
    assert page.locator("[data-testid=status] h3").inner_text() == "Not verified: your proof does not match"
    if "recompute the root" in expected:
        assert page.locator("[data-testid=root-step].bad").count() >= 1
    shot(page, f"por-{tamper.__name__.replace('_', '-')}")


def test_a_root_other_than_the_pinned_one_fails(page, site):
    page.fill("#root", "ab" * 32)
    result = load(page, "drop", (site / "user-0000007.json").read_text())
    assert result["state"] == "failed"
    assert result["reasons"] == [f"root {proof_doc(site)['root']['hash']} is not the pinned root {'ab' * 32}"]
    shot(page, "por-pinned-root-mismatch")
    page.fill("#root", "")
    pin_commitment(page, site / "unsigned" / "commitment.json")  # same customers, another tree
    result = recheck(page)
    assert result["state"] == "failed" and any("is not the commitment's root" in r for r in result["reasons"])


@pytest.mark.parametrize("resave", ["indent4", "crlf", "bom", "reordered", "escaped"])
def test_a_re_saved_proof_is_the_same_proof_as_in_the_cli(page, site, resave):
    """Issue 13 item 7: the value is judged, not the bytes: a proof re-saved by an editor still verifies."""
    doc = proof_doc(site)
    text = {
        "indent4": lambda: json.dumps(doc, indent=4) + "\n",
        "crlf": lambda: dumps(doc).replace("\n", "\r\n"),
        "bom": lambda: "\ufeff" + dumps(doc),
        "reordered": lambda: json.dumps(dict(reversed(list(doc.items())))),
        "escaped": lambda: json.dumps(doc, indent=1, ensure_ascii=True),
    }[resave]()
    pin_commitment(page, site / "signed" / "commitment.json")
    result = load(page, "file", text, "resaved.json")
    assert result["state"] == "verified", result
    commitment = parse_commitment(load_file(site / "signed" / "commitment.json"), "commitment.json")
    assert python_verdict(text, commitment, "resaved.json")["state"] == "verified"


@pytest.mark.parametrize(
    "edit, reason",
    [
        (lambda t: t.replace('"leaf_count": ', '"leaf_count": 1, "leaf_count": ', 1), "duplicate key"),
        (lambda t: t.replace('"piece": 0', '"piece": -0', 1), "-0 is not a canonical integer"),
        (lambda t: t.replace('"piece": 0', '"piece": 0.0', 1), "expected an integer, got float"),
    ],
)
def test_a_proof_that_says_one_thing_two_ways_is_still_refused(page, site, edit, reason):
    text = edit((site / "user-0000007.json").read_text())
    result = page_verdicts(page, [(text, "", "edited.json")])[0]
    assert result["state"] == "failed" and reason in result["reasons"][0], result
    want = python_verdict(text, None, "edited.json")
    assert want is not None and want["state"] == "failed" and reason in want["reasons"][0], want


def test_signatures_by_another_key_or_missing_fail_and_no_key_says_not_checked(page, site):
    pin_commitment(page, site / "signed" / "commitment.json")
    other = Account.from_key(bytes.fromhex(OTHER)).address
    page.fill("#signer", other)
    result = load(page, "file", (site / "user-0000007.json").read_text())
    assert result["state"] == "failed"
    assert f"signed by {ADDRESS.lower()}, not by the pinned key {other.lower()}" in result["signature"]["text"]
    shot(page, "por-wrong-signer")
    assert_no_green(page)  # the pill of a verified signature is muted under red
    page.fill("#signer", "")
    result = recheck(page)
    assert result["state"] == "verified" and result["signature"]["state"] == "not-checked"
    open_technical(page)
    assert page.locator("[data-testid=signature]").inner_text().startswith("not checked (no key pinned)")
    pin_commitment(page, site / "unsigned" / "commitment.json")
    page.fill("#signer", ADDRESS)
    result = recheck(page)
    assert "the commitment is not signed, but a signing key is pinned" in result["signature"]["text"]
    page.fill("#signer", ADDRESS[:-1] + ("A" if ADDRESS[-1] != "A" else "b"))  # a typo in the key
    assert recheck(page)["state"] == "error"


def test_okx_genuine_files_are_self_consistent_but_anchored_to_nothing(page):
    """OKX's root binds neither its totals nor its height unambiguously: a file alone, or under a bare root,
    is self-consistent (amber), as in the CLI."""
    v1 = load(page, "drop", (OKX / "merkle_proof_file.json").read_text(), "merkle_proof_file.json")
    assert v1["state"] == "self-consistent" and v1["format"] == "okx-v1"
    assert v1["balances"] == [["BTC", "1.000069"], ["ETH", "0.99908176"], ["USDT", "19398.33550812"]]
    assert v1["root"] == "ac6b39d2a0aa8112bd1aadff5e7d4b5c2b91cd54d595262ba4367f5d2db4160d"
    assert page.locator("[data-testid=step]").count() == 23
    assert_no_green(page)
    shot(page, "okx-v1-self-consistent")
    page.fill("#root", v1["root"])
    pinned = recheck(page)
    assert pinned["state"] == "failed" and "the published root alone does not bind" in pinned["reasons"][0]
    assert_no_green(page)
    totals = json.loads((OKX / "merkle_proof_file.json").read_text())["path"][-1]["balances"]
    page.fill("#totals", json.dumps({"format": "por-totals", "version": 1, "totals": totals}))
    anchored = recheck(page)
    assert anchored["state"] == "verified" and anchored["anchor"] == "the pinned root and totals"
    shot(page, "okx-v1-verified-root-and-totals")
    page.fill("#totals", "")
    page.fill("#root", "")
    v2 = load(page, "paste", (OKX / "user_info_file.json").read_text())
    assert v2["state"] == "self-consistent" and v2["format"] == "okx-v2"
    assert v2["balances"] == [["BTC", "0.00005"], ["ETH", "0"], ["USDT", "0"]]
    assert any("not checked here" in n for n in v2["notes"])
    assert_no_green(page)
    shot(page, "okx-v2-self-consistent")


def test_okx_tampered_files_fail(page):
    v1 = json.loads((OKX / "merkle_proof_file.json").read_text())
    v1["path"][5]["balances"]["USDT"] = _bump(v1["path"][5]["balances"]["USDT"])
    result = load(page, "file", json.dumps(v1), "merkle_proof_file.json")
    assert result[
        "state"
    ] == "failed" and "path[23]: root hash does not recompute from the leaf and its path" in "\n".join(
        result["reasons"]
    )
    shot(page, "okx-v1-tampered")
    v2 = json.loads((OKX / "user_info_file.json").read_text())
    v2["nodes"][1]["balances"]["BTC"] = "0.0000014"
    result = load(page, "file", json.dumps(v2), "user_info_file.json")
    assert result["state"] == "failed"
    assert "proof.json" not in result["reasons"][0]
    assert result["reasons"][:1] == ["nodes[1]: hash does not recompute from the user hash and its balances"]
    shot(page, "okx-v2-tampered")


# --- the page against the Python verifier ------------------------------------------------


def python_verdict(text: str, commitment, source: str, root: bytes | None = None) -> dict[str, Any] | None:
    """What `por verify-inclusion SOURCE [--commitment | --root]` concludes; None for bad input (exit 2)."""
    from por.liabilities.check import verify_proof_document
    from por.liabilities.foreign import detect

    raw = text.encode("utf-8")
    try:
        kind = detect.proof_format(raw, source)
    except InputError:
        return None
    verdict = verify_proof_document(kind, raw, Path(source), commitment, root, None)
    return {"ok": verdict.verified, "state": verdict.state, "reasons": verdict.reasons}


def page_verdicts(page, cases: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    return page.evaluate(
        """async (cases) => {
        const out = [];
        for (const [text, commitmentText, name] of cases) {
            out.push(await window.porVerifier.verify(text, {commitmentText}, name));
        }
        return out;
    }""",
        cases,
    )


def _scalars(node: Any, path: tuple = ()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _scalars(value, path + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _scalars(value, path + (i,))
    else:
        yield path, node


def _edited_value(rng: random.Random, value: Any) -> Any:
    if isinstance(value, bool):
        return rng.choice([not value, 1, None])
    if isinstance(value, int):
        return rng.choice([value + 1, max(value - 1, 0), value + 2**64, -1, str(value), float(value)])
    if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return _flip(value, rng.randrange(64)) if rng.random() < 0.9 else value.upper()
    if value and value[0].isdigit() and all(c.isdigit() or c == "." for c in value):
        return rng.choice([_bump(value), value + ("0" if "." in value else ".0"), "-" + value, value[:-1] or "1"])
    return rng.choice([value + "x", value[:-1], " " + value, "\ud800", value + "ü"])


def mutations(rng: random.Random, doc: dict[str, Any], text: str, count: int):
    """Edited proofs: field edits re-serialised canonically, and raw one-character edits."""
    fields = list(_scalars(doc))
    for _ in range(count):
        if rng.random() < 0.6:
            edited = copy.deepcopy(doc)
            path, value = rng.choice(fields)
            target = edited
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = _edited_value(rng, value)
            text_out = json.dumps(edited, indent=2, ensure_ascii=False) + "\n"
            try:
                text_out.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate: send it escaped
                text_out = json.dumps(edited, indent=2) + "\n"
            yield text_out
        else:
            at = rng.randrange(len(text))
            char = rng.choice('0123456789abcdef{}[]":, \n.')
            yield rng.choice(
                [text[:at] + char + text[at + 1 :], text[:at] + text[at + 1 :], text[:at] + char + text[at:]]
            )


@pytest.mark.parametrize("seed", range(6))
def test_page_verdict_equals_python_verdict_on_random_trees(page, tmp_path, seed):
    rng = random.Random(1000 + seed)
    book = random_liabilities(rng, rng.randint(1, 40), rng.randint(1, 4))
    folder = tmp_path / "pub"
    publish(
        book,
        folder,
        exchange="x",
        snapshot_id=f"s{seed}",
        snapshot_time="2026-01-01T00:00:00Z",
        max_pieces=rng.randint(1, 3),
    )
    commitment_text = (folder / "commitment.json").read_text()
    commitment = parse_commitment(load_file(folder / "commitment.json"), "commitment.json")
    cases, expected = [], []
    for account in rng.sample(book.account_ids, min(3, len(book.account_ids))):
        proof = cut_proof(folder, account)
        text = dumps(proof.to_json())
        for candidate in [text, *mutations(rng, proof.to_json(), text, 25)]:
            cases.append((candidate, commitment_text, "proof.json"))
            expected.append(python_verdict(candidate, commitment, "proof.json"))
    got = page_verdicts(page, cases)
    checked_reasons = 0
    for (candidate, _, _), want, have in zip(cases, expected, got):
        if want is None:
            assert have["state"] == "error", candidate
            continue
        assert have["ok"] == want["ok"] and have["state"] == want["state"], (candidate, want, have)
        if want["ok"]:
            assert have["balances"] == [list(x) for x in json.loads(candidate)["balances"].items()]
        elif "invalid JSON" not in want["reasons"][0] and "duplicate key" not in want["reasons"][0]:
            assert have["reasons"] == want["reasons"], candidate
            checked_reasons += 1
    assert sum(1 for w in expected if w and w["ok"]) >= 3 and checked_reasons >= 10


def test_page_verdict_equals_python_verdict_on_edited_okx_files(page):
    rng = random.Random(7)
    cases, expected = [], []
    for name in ("merkle_proof_file.json", "user_info_file.json"):
        text = (OKX / name).read_text()
        doc = json.loads(text)
        edits = [text]
        for path, value in _scalars(doc):
            if isinstance(value, str) and path[-1] != "auditId":
                edits.append(_okx_edit(doc, path, value, rng))
            elif path[-1] == "height":
                edits.append(_okx_edit(doc, path, value + 1, rng))
        for candidate in edits:
            cases.append((candidate, "", name))
            expected.append(python_verdict(candidate, None, name))
    got = page_verdicts(page, cases)
    for (candidate, _, _), want, have in zip(cases, expected, got):
        assert have["state"] == want["state"], (candidate[:200], want, have)
        assert have["reasons"] == want["reasons"], (want, have)
    assert sum(1 for w in expected if w["state"] == "self-consistent") == 2 and len(cases) > 130


def _okx_edit(doc, path, value, rng):
    edited = copy.deepcopy(doc)
    target = edited
    for key in path[:-1]:
        target = target[key]
    if isinstance(value, int):
        target[path[-1]] = value
    elif len(value) == 64:
        target[path[-1]] = _flip(value, rng.randrange(64))
    else:
        target[path[-1]] = rng.choice([_bump(value), value + "1" if "." in value else value + ".1", "-" + value])
    return json.dumps(edited)


def test_page_checks_signatures_exactly_like_python(page, tmp_path):
    from por import signing

    rng = random.Random(3)
    base = json.loads(json.dumps(_commitment_doc()))
    cases, expected = [], []
    for i in range(8):
        key = rng.randbytes(32)
        doc = copy.deepcopy(base)
        doc["exchange"] = f'ex-{i}-ü\u2028"\\'
        doc["signature"] = signing.sign(doc, key)
        signer = Account.from_key(key).address
        pinned = [signer, signer.lower(), Account.from_key(rng.randbytes(32)).address]
        variants = [doc]
        altered = copy.deepcopy(doc)
        altered["totals"]["BTC"] = "2"
        variants.append(altered)
        variants.append(_high_s(doc))  # the same signature's second spelling (EIP-2)
        for variant in variants:
            text = json.dumps(variant, ensure_ascii=False)
            for key_text in pinned:
                cases.append((text, key_text))
                expected.append(
                    signing.check(json.loads(text), signing.normalise_address(key_text), recover_text_signer)
                )
    proof = json.dumps(json.loads((OKX / "merkle_proof_file.json").read_text()))
    got = page.evaluate(
        """async ([proof, cases]) => {
        const out = [];
        for (const [commitmentText, signerText] of cases) {
            out.push((await window.porVerifier.verify(proof, {commitmentText, signerText})).signature);
        }
        return out;
    }""",
        [proof, cases],
    )
    assert [g["state"] for g in got] == [e.state for e in expected]
    assert [g["text"] for g in got] == [e.text for e in expected]
    assert sum(e.state == "verified" for e in expected) == 16


def _high_s(doc: dict[str, Any]) -> dict[str, Any]:
    """(r, n - s) with the recovery bit flipped: recovers the same key, refused by low-s."""
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    out = copy.deepcopy(doc)
    raw = bytes.fromhex(out["signature"]["value"][2:])
    s = n - int.from_bytes(raw[32:64], "big")
    out["signature"]["value"] = "0x" + (raw[:32] + s.to_bytes(32, "big") + bytes([55 - raw[64]])).hex()
    return out


def _commitment_doc() -> dict[str, Any]:
    return {
        "format": "por-commitment",
        "version": 1,
        "exchange": "ex",
        "snapshot_id": "s",
        "snapshot_time": "t",
        "hash": "sha256",
        "root": "ab" * 32,
        "height": 2,
        "leaf_count": 3,
        "assets": [{"symbol": "BTC", "decimals": 8}],
        "totals": {"BTC": "1.5"},
        "tree": {"file": "tree.bin", "sha256": "cd" * 32},
    }


# --- issue 12: the page and the CLI on what anchors a verdict --------------------------------


def cli_verdict(proof: Path, *pins: object) -> dict[str, Any]:
    """`por verify-inclusion PROOF PINS --json` as a customer runs it: state, reasons, exit code."""
    from fixtures.liabilities import run_por

    code, out, err = run_por("verify-inclusion", proof, *pins, "--json")
    if code == 2:
        return {"code": 2, "state": "error", "reasons": [err]}
    doc = json.loads(out)
    return {"code": code, "state": doc["state"], "reasons": doc["reasons"]}


def anchoring_cases(tmp: Path) -> list[tuple[str, Path, dict[str, str], list[object]]]:
    """(label, proof file, page pins, CLI pins) over formats 2 and 1, OKX, forgeries and bad pins."""
    from fixtures.vectors import SETS, load_vectors

    v2, v1 = load_vectors(2), load_vectors(1)
    c2, c1 = SETS[2] / "commitment.json", SETS[1] / "commitment.json"
    root2, root1 = v2["root"]["digest"], v1["root"]["digest"]
    okx_v1 = OKX / "merkle_proof_file.json"
    okx_root = json.loads(okx_v1.read_text())["path"][-1]["hash"]
    okx_commitment = tmp / "okx-commitment.json"  # a commitment naming OKX's root
    okx_commitment.write_text(json.dumps(_commitment_doc() | {"root": okx_root}))
    signer = "0x" + "22" * 20
    cases = []

    def add(label, proof, commitment=None, root=None, signer_text=None, totals=None, account=None):
        page_pins = {
            "commitmentText": commitment.read_text() if commitment else "",
            "rootText": root or "",
            "signerText": signer_text or "",
            "totalsText": totals.read_text() if totals else "",
            "totalsName": str(totals),
            "accountText": account or "",
        }
        cli = [
            *(["--commitment", commitment] if commitment else []),
            *(["--root", root] if root else []),
            *(["--signer", signer_text] if signer_text else []),
            *(["--totals", totals] if totals else []),
            *(["--account", account] if account else []),
        ]
        cases.append((label, proof, page_pins, cli))

    def totals_file(name, totals, **more):
        path = tmp / name
        path.write_text(json.dumps({"format": "por-totals", "version": 1, "totals": totals, **more}))
        return path

    okx_totals = totals_file("okx-totals.json", json.loads(okx_v1.read_text())["path"][-1]["balances"])
    okx_low = totals_file("okx-low.json", {**json.loads(okx_v1.read_text())["path"][-1]["balances"], "BTC": "1"})
    v1_totals = totals_file("v1-totals.json", json.loads(c1.read_text())["totals"])
    v2_wrong = totals_file("v2-wrong.json", {**json.loads(c2.read_text())["totals"], "ETH": "0"})
    v2_other_snapshot = totals_file("v2-snap.json", json.loads(c2.read_text())["totals"], snapshot_id="2026-07")

    for name in v2["files"]["proofs"].values():
        proof = SETS[2] / name
        add(f"v2 {name} nothing", proof)
        add(f"v2 {name} root", proof, root=root2)
        add(f"v2 {name} other root", proof, root="ab" * 32)
        add(f"v2 {name} commitment", proof, commitment=c2)
        add(f"v2 {name} legacy commitment", proof, commitment=c1)
        add(f"v2 {name} signer alone", proof, signer_text=signer)
        add(f"v2 {name} root and signer", proof, root=root2, signer_text=signer)
    for name in v1["files"]["proofs"].values():
        proof = SETS[1] / name
        add(f"v1 {name} nothing", proof)
        add(f"v1 {name} root", proof, root=root1)
        add(f"v1 {name} commitment", proof, commitment=c1)
        add(f"v1 {name} v2 commitment", proof, commitment=c2)
    carol = json.loads((SETS[2] / v2["files"]["proofs"]["carol"]).read_text())
    for label, edit in (
        ("decimals", lambda d: d["assets"][0].update(decimals=1)),
        ("snapshot", lambda d: d.update(snapshot_id="2026-07-31")),
        ("exchange", lambda d: d.update(exchange="Other")),
        ("time", lambda d: d.update(snapshot_time="2026-06-30 23:59:59")),
        ("version", lambda d: d.update(version=1)),
    ):
        doc = copy.deepcopy(carol)
        edit(doc)
        path = tmp / f"relabelled-{label}.json"
        path.write_text(dumps(doc), encoding="utf-8")
        add(f"relabelled {label} root", path, root=root2)
        add(f"relabelled {label} nothing", path)
    bob = json.loads((SETS[2] / v2["files"]["proofs"]["bob-ü"]).read_text())
    bob["leaves"].pop()  # the empty last piece
    dropped = tmp / "dropped.json"
    dropped.write_text(dumps(bob), encoding="utf-8")
    add("dropped empty piece root", dropped, root=root2)
    add("dropped empty piece commitment", dropped, commitment=c2)
    add("okx v1 nothing", okx_v1)
    add("okx v1 root", okx_v1, root=okx_root)
    add("okx v1 other root", okx_v1, root="ef" * 32)
    add("okx v1 commitment", okx_v1, commitment=okx_commitment)
    add("okx v1 root and totals", okx_v1, root=okx_root, totals=okx_totals)
    add("okx v1 root and lower totals", okx_v1, root=okx_root, totals=okx_low)
    add("okx v1 totals and commitment", okx_v1, commitment=okx_commitment, totals=okx_totals)
    add("okx v1 totals alone", okx_v1, totals=okx_totals)
    add("v1 root and totals", SETS[1] / v1["files"]["proofs"]["carol"], root=root1, totals=v1_totals)
    add("v2 root and wrong totals", SETS[2] / v2["files"]["proofs"]["carol"], root=root2, totals=v2_wrong)
    add(
        "v2 root and totals of another snapshot",
        SETS[2] / v2["files"]["proofs"]["carol"],
        root=root2,
        totals=v2_other_snapshot,
    )
    carol_proof = SETS[2] / v2["files"]["proofs"]["carol"]
    add("own account", carol_proof, root=root2, account="carol")
    add("another customer's account", carol_proof, root=root2, account="Carol")
    add("account, nothing else pinned", carol_proof, account="carol")
    add("account with an okx file", okx_v1, root=okx_root, totals=okx_totals, account="carol")
    for name, account_id in (
        ("decomposed", "cafe\u0301"),
        ("zero width", "car\u200bol"),
        ("bidi", "\u202ecarol"),
        ("trailing space", "carol\u3000"),
        ("nbsp", "car\u00a0ol"),
    ):
        doc = copy.deepcopy(carol)
        doc["account_id"] = account_id
        path = tmp / f"id-{name.replace(' ', '-')}.json"
        path.write_text(dumps(doc), encoding="utf-8")
        add(f"id {name}", path, root=root2)
    add("okx v2 user file alone", OKX / "user_info_file.json")
    add("okx v2 user file root", OKX / "user_info_file.json", root=okx_root)
    return cases


def test_page_reaches_the_cli_verdict_on_every_anchoring_case(page, tmp_path):
    """Same state (verified / self-consistent / failed / refused input) and the same reasons as the CLI."""
    cases = anchoring_cases(tmp_path)
    got = page.evaluate(
        """async (cases) => {
        const out = [];
        for (const [text, pins, name] of cases) out.push(await window.porVerifier.verify(text, pins, name));
        return out;
    }""",
        [[proof.read_text(encoding="utf-8"), pins, str(proof)] for _, proof, pins, _ in cases],
    )
    seen = set()
    for (label, proof, _, cli), have in zip(cases, got):
        want = cli_verdict(proof, *cli)
        seen.add(want["state"])
        assert have["state"] == want["state"], (label, want, have)
        if want["state"] != "error":
            assert have["reasons"] == want["reasons"], (label, want, have)
            assert have["verified"] == (want["code"] == 0), label
    assert seen == {"verified", "self-consistent", "failed", "error"} and len(cases) >= 40


def test_the_page_recomputes_every_frozen_vector(page):
    """fixtures/vectors: the page's own rules give every digest, the canonical header and the root, and it
    verifies the frozen proofs against the signed commitment with the test key."""
    from fixtures.vectors import SETS, load_vectors

    for version in (2, 1):
        vectors = load_vectors(version)
        got = page.evaluate(
            """async (v) => {
            const R = window.porVerifier.rules, users = {}, nodes = {}, out = {users: [], nodes: []};
            for (const u of v.users) {
                users[u.account_id] = await R.userHash(u.nonce, u.account_id);
                out.users.push(users[u.account_id]);
            }
            for (const n of v.nodes) nodes[n.height + "/" + n.index] = n;
            for (const n of v.nodes) {
                const sums = R.encodeSums(n.sums), user = users[n.account_id];
                let digest;
                if (n.kind === "leaf" && n.count === undefined) digest = await R.legacyLeafHash(user, n.piece, sums);
                else if (n.kind === "leaf") digest = await R.leafHash(user, n.piece, n.count, sums);
                else if (n.kind === "padding") digest = await R.paddingHash(n.height, n.index);
                else {
                    const l = nodes[(n.height - 1) + "/" + (2 * n.index)];
                    const r = nodes[(n.height - 1) + "/" + (2 * n.index + 1)];
                    const [ls, rs] = [R.encodeSums(l.sums), R.encodeSums(r.sums)];
                    digest = await R.innerHash(n.height, l.digest, ls, r.digest, rs);
                }
                out.nodes.push(digest);
            }
            if (v.header) {
                const f = v.header.fields;
                out.header = R.canonicalHeader(f);
                out.root = await R.rootHash(f, v.top.hash, R.encodeSums(v.top.sums));
            }
            return out;
        }""",
            vectors,
        )
        assert got["users"] == [u["digest"] for u in vectors["users"]]
        assert got["nodes"] == [n["digest"] for n in vectors["nodes"]]
        if version == 2:
            assert got["header"] == vectors["header"]["canonical"] and got["root"] == vectors["root"]["digest"]
        folder = SETS[version]
        pins = {
            "commitmentText": (folder / "commitment.json").read_text(),
            "signerText": vectors["signing_key"]["address"] if version == 2 else "",
        }
        for name in vectors["files"]["proofs"].values():
            result = page.evaluate(
                "([t, p]) => window.porVerifier.verify(t, p, 'proof.json')",
                [(folder / name).read_text(encoding="utf-8"), pins],
            )
            assert result["state"] == "verified", result
            if version == 2:
                assert result["signature"]["state"] == "verified"
            else:
                assert "legacy: labels not bound" in result["notes"]


@pytest.mark.parametrize("width", [390, 1280])
def test_pass_amber_and_fail_screenshots_at_phone_and_desktop_width(browser, site, width):
    """The three verdicts a customer can see, as they see them; green only under a verified headline."""
    from fixtures.vectors import SETS, load_vectors

    vectors = load_vectors(2)
    context = browser.new_context(viewport={"width": width, "height": 900})
    view = context.new_page()
    errors = []
    view.on("pageerror", lambda error: errors.append(str(error)))
    view.goto(GENERIC.as_uri())
    proof = (SETS[2] / vectors["files"]["proofs"]["bob-ü"]).read_text(encoding="utf-8")
    pin_commitment(view, SETS[2] / "commitment.json")
    view.fill("#signer", vectors["signing_key"]["address"])
    passed = load(view, "file", proof, "proof-bob.json")
    assert passed["state"] == "verified" and passed["signature"]["state"] == "verified"
    assert view.locator(".status.verified").count() == 1
    assert view.locator("[data-testid=status] h3").inner_text() == "Verified: your balances are included"
    shot(view, f"pass-{width}", verdict=True)
    doc = json.loads(proof)
    doc["leaves"].pop()  # a dropped piece, with the signature still good
    failed = load(view, "file", dumps(doc), "proof-bob.json")
    assert failed["state"] == "failed" and failed["signature"]["state"] == "verified"
    assert_no_green(view)
    shot(view, f"fail-{width}", verdict=True)
    view.evaluate("document.getElementById('commitment-name').textContent = ''")
    view.evaluate("document.getElementById('more').open = true")
    view.click("#clear")
    view.fill("#signer", "")
    view.evaluate(
        "document.getElementById('commitment-text').value = ''; document.getElementById('commitment-text')"
        ".dispatchEvent(new Event('input'))"
    )
    amber = load(view, "file", proof, "proof-bob.json")
    assert amber["state"] == "self-consistent"
    assert view.locator(".status.self-consistent").count() == 1
    assert_no_green(view)
    shot(view, f"amber-{width}", verdict=True)
    assert view.evaluate("document.documentElement.scrollWidth") <= width  # nothing wider than the screen
    assert not errors, errors
    context.close()
