"""The zk proof-of-solvency family (Binance, Gate.io, HTX): Poseidon as the exchanges' pinned
gnark-crypto fork defines it, the user proofs with the asset count each audit used, and the
proof tables (batch commitments, chain, empty start, asset list). Groth16 is never claimed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixtures import foreign as gen
from por.errors import InputError
from por.liabilities.foreign import detect, zk
from por.liabilities.foreign.zk import poseidon as pos
from por.liabilities.foreign.zk.table import empty_root, read_table
from por.liabilities.foreign.zk.user import counts_that_verify, parse_user
from por.liabilities.pins import Pins

FIX = gen.CONFORMANCE
ROOT_DIR = Path(__file__).resolve().parents[1]
GATE = FIX / "gate-zk" / "user_config.2025-07.HEAD-87db18d.json"
GATE_ROOT = "2e7e01ad51d5c668e8d581be83fcfe806644b7c834876d540b188816a67778e6"
GATE_TABLE = FIX / "gate-zk" / "proof.2025-07.HEAD-87db18d.csv"
GATE_CEX = FIX / "gate-zk" / "cex_config.2025-07.HEAD-87db18d.json"
GATE_2023 = FIX / "gate-zk" / "user_config.2023-10.7490ef5d.json"
GATE_2023_TABLE = FIX / "gate-zk" / "proof.2023-10.7490ef5d.csv"
GATE_2023_CEX = FIX / "gate-zk" / "cex_config.2023-10.7490ef5d.json"
HTX = FIX / "htx-zk" / "user_config.zk-v2-2023-09.HEAD-bc0adce.json"
HTX_ROOT = "2d56687955260b6385c0b167a96d2540d9f6f4a1982e6e5c394aebcb6f33223a"
HTX_TABLE = FIX / "htx-zk" / "proof0.zk-v2-2023-08.HEAD-bc0adce.csv"
HTX_CONFIG = FIX / "htx-zk" / "config.HEAD-bc0adce.json"
BINANCE_V1 = FIX / "binance-zk" / "user_config.v1-2023-02.c1884aa.json"
BINANCE_V2 = FIX / "binance-zk" / "user_config.v2-2024.HEAD-9a3e5b7.json"


def user_verdict(path: Path | bytes, root: str | None = None, **kw):
    raw = path if isinstance(path, bytes) else path.read_bytes()
    try:
        name = detect.proof_format(raw, "u.json")
        pins = Pins(root=bytes.fromhex(root) if root is not None else None)
        return zk.FORMAT.verify_proof(name, raw, "u.json", pins=pins, **kw)
    except InputError as exc:
        from por.verdict import Verdict

        return Verdict(ok=False, reasons=[exc.location_text()])


def por_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "por", *args],
        capture_output=True,
        text=True,
        cwd=ROOT_DIR,
        env={"PYTHONPATH": str(ROOT_DIR), "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
    )


# --- Poseidon ------------------------------------------------------------------------------


def test_poseidon_matches_the_forks_test_vectors():
    """bnb-chain/gnark-crypto @7c643ad1 ecc/bn254/fr/poseidon/poseidon_test.go (state[1] output)."""
    assert pos.poseidon(1, 2) == 0x0FCA49B798923AB0239DE1C9E7A4A9A2210312B6A2F616D18B5A87F9B628AE29
    assert pos.poseidon(1, 2, 3, 4) == 0x1148AAEF609AA338B27DAFD89BB98862D8BB2B429ACEAC47D86206154FFE053D
    assert pos.poseidon(*range(1, 25)) == 0x06C7676E83EF8CB9EF6C25746A5F6B2D39FBA4548B4C29B3D41490BBF3C1108D
    assert pos.poseidon(*range(1, 31)) == 0x2FF47AB8E9E9F6134600A8DE8B8E99596E573620A7D8D39ED7B2C7CEF9F105F1
    # the plain permutation is the reference one (circomlib's poseidon([1, 2]) = state[0])
    assert pos.permutation([0, 1, 2])[0] == 0x115CC0F5E7D690413DF64C6B9662E9CF2A3617F2743245519E19607A4417189A


def test_stored_constants_are_what_the_grain_generator_makes():
    assert pos.constants_bytes() == pos.CONSTANTS_FILE.read_bytes()


def test_poseidon_refuses_what_the_fork_refuses():
    with pytest.raises(ValueError):
        pos.poseidon(pos.P)
    with pytest.raises(ValueError):
        pos.poseidon()


@pytest.mark.parametrize(
    "fmt,count,root",
    [
        ("gate-zk", 800, "037bf6d8fe5b7cbaecf7b35604b57f82173f5c8155c1c750cef00afebcd65436"),  # Gate service.go L72
        ("binance-zk", 350, "0118925954da77d1a4b241fd163e4373e2265c515cfa60af7fcd28c8cb9ad58a"),  # Binance main.go L124
        ("htx-zk", 168, "08030a5616bdd248a983dd1f994f557361c742cc4adaa2618275fbc35a9bdc24"),  # HTX verifier f57c44d
    ],
)
def test_empty_tree_roots_hard_coded_in_the_exchanges_verifiers(fmt, count, root):
    assert f"{empty_root(fmt, count):064x}" == root


# --- user proofs ---------------------------------------------------------------------------


def test_gate_user_proof_verifies_with_800_assets_and_not_350():
    started = time.perf_counter()
    v = user_verdict(GATE, GATE_ROOT)
    elapsed = time.perf_counter() - started
    assert v.ok, v.reasons
    assert v.facts["asset_count"] == 800 and v.facts["format"] == "gate-zk" and v.facts["anchored"] is True
    assert "not checked" in v.facts["coverage"]["zk_proof"]
    user = parse_user(json.loads(GATE.read_text()), "u", "gate-zk")
    assert counts_that_verify(user, [350, 500]) == []
    assert elapsed < 10  # about 0.3 s in CPython on a laptop


def test_gate_user_with_its_proof_table_and_asset_list():
    v = user_verdict(GATE, GATE_ROOT, tree=GATE_TABLE, config=GATE_CEX)
    assert v.ok, v.reasons
    table = v.facts["proof_table"]
    assert table["asset_count"] == 800 and table["batches"] == 1 and table["final_root"] == GATE_ROOT
    assert any("audit's prices" in line for line in v.facts["checked"])
    assert v.facts["assets"][0]["symbol"]


def test_gate_2023_user_proof_with_350_assets():
    v = user_verdict(GATE_2023, None, tree=GATE_2023_TABLE, config=GATE_2023_CEX)
    assert v.ok, v.reasons
    assert v.facts["asset_count"] == 350 and v.facts["proof_table"]["batches"] == 2
    assert v.facts["root"] == "0b47326c87891cc85c648b5882c9ff5d82570363ab7eeb747c9eb5c03b650318"


def test_htx_user_proof_verifies_with_168_assets_not_the_174_its_verifier_hard_codes():
    v = user_verdict(HTX, HTX_ROOT)
    assert v.ok and v.facts["asset_count"] == 168
    user = parse_user(json.loads(HTX.read_text()), "u", "htx-zk")
    assert counts_that_verify(user, [174, 205]) == []
    assert any("sign of each Balance" in line for line in v.facts["not_checked"])


def test_htx_user_and_its_proof_table_are_two_runs():
    v = user_verdict(HTX, HTX_ROOT, tree=HTX_TABLE)
    assert not v.ok and "not the proof table's final root" in " ".join(v.reasons)
    assert v.facts["proof_table"]["asset_count"] == 168 and v.facts["proof_table"]["batches"] == 20


def test_binance_samples():
    v1 = user_verdict(BINANCE_V1)
    assert not v1.ok and "does not recompute" in v1.reasons[0]  # hand-edited sample
    v2 = user_verdict(BINANCE_V2)
    assert not v2.ok and "609ab3a" in v2.reasons[0]  # cannot check, said so
    assert v2.facts["variant"].startswith("binance-zk v2")


def test_zk_forgeries_recomputed_after_breaking_a_rule():
    doc = json.loads(GATE.read_text())
    doc["AssetDetails"][0]["Equity"] += 1  # more than the totals say
    forged = gen.zk_reroot(doc, "gate-zk", 800)
    alone = user_verdict(json.dumps(forged).encode())
    assert alone.ok  # self-consistent ...
    assert not user_verdict(json.dumps(forged).encode(), GATE_ROOT).ok  # ... not the published root
    v = user_verdict(json.dumps(forged).encode(), config=GATE_CEX)
    assert any("audit's prices" in r for r in v.reasons)
    v = user_verdict(json.dumps(forged).encode(), tree=GATE_TABLE)
    assert any("final root" in r for r in v.reasons)
    doc = json.loads(HTX.read_text())
    doc["Assets"][0]["Balance"] = -32  # hashes like +32
    v = user_verdict(json.dumps(gen.zk_reroot(doc, "htx-zk", 168)).encode(), HTX_ROOT)
    assert not v.ok and any("|Balance|" in r for r in v.reasons)


def test_proof_table_forgeries(tmp_path):
    text = HTX_TABLE.read_text()
    rows = text.splitlines()
    rows[3], rows[4] = rows[4], rows[3]  # two batches out of order: still a chain
    swapped = tmp_path / "p.csv"
    swapped.write_text("\n".join(rows) + "\n")
    assert zk.verify_zk_table("htx-zk", swapped).ok
    batches = read_table(HTX_TABLE)
    cut = tmp_path / "cut.csv"
    cut.write_text("\n".join(text.splitlines()[:1] + text.splitlines()[2:]) + "\n")  # batch 0 dropped
    v = zk.verify_zk_table("htx-zk", cut)
    assert not v.ok and any("batch numbers" in r for r in v.reasons)
    other = tmp_path / "other.csv"
    old = batches[5]
    line = text.splitlines()[old.line - 1]
    other.write_text(text.replace(line, line.replace(line.split(",")[-2][1:6], "AAAAA", 1)))
    assert not zk.verify_zk_table("htx-zk", other).ok


def test_htx_asset_list_does_not_match_its_proof_table():
    v = zk.verify_zk_table("htx-zk", HTX_TABLE, config=HTX_CONFIG)
    assert not v.ok and "not the one the proof table was made from" in v.reasons[0]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_one_character_changed_never_verifies(data):
    doc = json.loads(HTX.read_text())
    places = list(gen.scalars(doc))
    path, _ = data.draw(st.sampled_from(places))
    mutated = gen.with_char(doc, path, data.draw(st.integers(0, 70)), data.draw(st.sampled_from("0189aAf+/= x")))
    if mutated == doc:
        return
    assert not user_verdict(json.dumps(mutated).encode(), HTX_ROOT).ok


# --- detection and the CLI -----------------------------------------------------------------


def test_detection_of_each_zk_document():
    assert detect.proof_format(GATE.read_bytes(), "u") == "gate-zk"
    assert detect.proof_format(HTX.read_bytes(), "u") == "htx-zk"
    assert detect.proof_format(BINANCE_V1.read_bytes(), "u") == "binance-zk"
    assert detect.proof_format(BINANCE_V2.read_bytes(), "u") == "binance-zk"
    assert detect.tree_format(GATE_TABLE.read_bytes()[:200], "t") == "zk-proof-table"


def test_cli_gate_user_with_table_asset_list_and_root():
    run = por_cli(
        "verify-inclusion",
        str(GATE),
        "--format",
        "auto",
        "--tree",
        str(GATE_TABLE),
        "--config",
        str(GATE_CEX),
        "--root",
        GATE_ROOT,
        "--json",
    )
    out = json.loads(run.stdout)
    assert run.returncode == 0, out["reasons"]
    assert out["format"] == "gate-zk" and out["asset_count"] == 800 and out["anchored"] is True
    run = por_cli("verify-tree", str(HTX_TABLE), "--json")
    out = json.loads(run.stdout)
    assert out["variant"] == "htx-zk" and out["asset_count"] == 168 and run.returncode == 1
    assert [r.split(":")[0] for r in out["reasons"]] == ["self-consistent, but nothing to compare it with"]
    run = por_cli("verify-inclusion", str(FIX / "mexc" / "merkle_proof.json"), "--config", str(GATE_CEX))
    assert run.returncode == 2 and "--config" in run.stderr
