"""Untrusted text on the terminal (issue 12, class 7): ids, snapshot ids, headers and reasons come
from files under test, so every hidden character (C0, C1, ESC, bidi, zero-width) reaches the
screen as a visible escape. JSON stays exact; HTML stays escaped (tests/test_nothing_lost.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.liabilities import run_por, run_por_process
from fixtures.sample import write_customers
from por.text import is_hidden, terminal_text, visible_text

# clear the screen, home the cursor, print a green VERIFIED: a failing proof repainted as a good one
REPAINT = "\x1b[2J\x1b[H\x1b[1;32mVERIFIED\x1b[0m all good"


@pytest.mark.parametrize(
    "char, shown",
    [
        ("\x00", "\\x00"),
        ("\x1b", "\\x1b"),
        ("\x07", "\\x07"),
        ("\r", "\\x0d"),
        ("\n", "\\x0a"),
        ("\x7f", "\\x7f"),
        ("\x9b", "\\x9b"),  # C1 CSI: an escape sequence in one byte
        ("\u202e", "\\u202e"),
        ("\u2066", "\\u2066"),
        ("\u200b", "\\u200b"),
        ("\u200d", "\\u200d"),
        ("\ufeff", "\\ufeff"),
        ("\u00a0", "\\xa0"),
        ("\u3164", "\\u3164"),
        ("\u2028", "\\u2028"),
        ("\U000e0041", "\\U000e0041"),  # a tag character: invisible
    ],
)
def test_every_hidden_character_is_shown_as_an_escape(char, shown):
    assert is_hidden(char)
    assert visible_text(f"a{char}b") == f"a{shown}b"
    assert terminal_text(f"[red]{char}", markup=False) == f"[red]{shown}"
    assert terminal_text(f"[red]{char}") == f"\\[red]{shown}"  # and rich markup is not markup


@pytest.mark.parametrize("text", ["alice", "café", "用户-42", "Ελένη", "a b", "пример", "١٢٣"])
def test_ordinary_text_is_left_alone(text):
    assert visible_text(text) == text


@pytest.fixture(scope="module")
def publication(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("text")
    customers = write_customers(root / "c.csv", 5)
    code, _, err = run_por(
        "publish", "--exchange", "Ex", customers, "--exchange", "Ex", "--out", root / "pub", "--snapshot-id", "s1"
    )
    assert code == 0, err
    code, _, err = run_por("prove", root / "pub", "user-0000001", "--out", root / "proof.json")
    assert code == 0, err
    return root


def _forged(publication: Path, tmp_path: Path, **fields: str) -> Path:
    """The honest proof with `fields` replaced and a balance raised: it must fail."""
    doc = json.loads((publication / "proof.json").read_text(encoding="utf-8"))
    doc.update(fields)
    leaf = doc["leaves"][0]["balances"]
    asset = sorted(leaf)[0]
    leaf[asset] = str(int(leaf[asset].split(".")[0]) + 1) + leaf[asset][len(leaf[asset].split(".")[0]) :]
    doc["balances"] = leaf if len(doc["leaves"]) == 1 else doc["balances"]
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("field", ["snapshot_id", "account_id"])
def test_escape_codes_in_a_proof_cannot_repaint_a_failing_proof_as_verified(publication, tmp_path, field):
    forged = _forged(publication, tmp_path, **{field: REPAINT})
    root = json.loads((publication / "pub" / "commitment.json").read_text())["root"]
    code, out, err = run_por_process("verify-inclusion", forged, "--root", root)
    assert code == 1, out + err
    assert "\x1b" not in out + err, out
    assert out.startswith("NOT VERIFIED")
    assert not any(line.startswith("VERIFIED") for line in out.splitlines())
    assert visible_text(REPAINT) in out or field == "account_id"  # an id with ESC is refused, not shown
    code, out, _ = run_por_process("verify-inclusion", forged, "--root", root, "--json")
    assert code == 1 and json.loads(out)["verified"] is False  # JSON: exact, and says false


def test_escape_codes_in_the_pinned_commitment_are_shown_visibly(publication, tmp_path):
    doc = json.loads((publication / "pub" / "commitment.json").read_text())
    doc["snapshot_id"] = "s1\x1b[1A\x1b[2KVERIFIED\u202e"
    (tmp_path / "commitment.json").write_text(json.dumps(doc), encoding="utf-8")
    code, out, err = run_por_process(
        "verify-inclusion", publication / "proof.json", "--commitment", tmp_path / "commitment.json"
    )
    assert code == 1 and "\x1b" not in out + err and "\u202e" not in out + err
    assert "\\x1b[1A\\x1b[2KVERIFIED\\u202e" in out


def test_nul_and_escape_bytes_in_an_input_header_are_shown_visibly(tmp_path):
    (tmp_path / "c.csv").write_bytes(b"acc\x00ount\x1b[2K_id,asset,amount\nalice,BTC,1\n")
    code, out, err = run_por_process("publish", "--exchange", "Ex", tmp_path / "c.csv", "--out", tmp_path / "out")
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "\x00" not in err and "\x1b" not in err
    assert "acc\\x00ount\\x1b[2K_id" in err, err


def test_a_hidden_character_in_an_option_value_is_shown_visibly(tmp_path):
    code, _, err = run_por_process("verify-inclusion", tmp_path / "p.json", "--root", "ab\x1b[2Kcd\u202e")
    assert code == 2 and "\x1b" not in err and "\u202e" not in err, err
