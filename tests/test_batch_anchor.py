"""`verify-inclusion --batch` judges every proof as `verify-inclusion PROOF` judges it, the anchor a
proof carries included: one that names another commitment or period fails the batch, naming the
proof; with only a root pinned, both paths say the anchor's digest was not checked.

The anchor is written by hand (the chains are in tests/test_anchor.py and test_anchor_bitcoin.py);
nothing here reads a chain, and the root binds none of the anchor: only the rule can catch it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fixtures.liabilities import random_liabilities, run_por
from por.liabilities.publish import publish
from por.signing import digest_hex

NOT_COMPARED = "the digest in the anchor the proof carries (no commitment pinned to compare it with: --commitment)"
OTHER_DIGEST = "the exchange anchored another commitment"


@pytest.fixture(scope="module")
def anchored(tmp_path_factory) -> tuple[Path, list[str], str]:
    """A publication with anchor.json beside its commitment, its proofs cut with --all: (folder, ids, root)."""
    book = random_liabilities(random.Random(29), 40, 2)
    folder = tmp_path_factory.mktemp("batchanchor") / "pub"
    publish(book, folder, exchange="Acme", snapshot_id="2025-06", max_pieces=2)
    doc = json.loads((folder / "commitment.json").read_text())
    anchor = {
        "format": "por-anchor",
        "version": 1,
        "chain": "btc",
        "address": "rb1qnjeyhtt7q44h3kn4gruq0f8dty3yf9gryacund",
        "snapshot_id": "2025-06",
        "digest": digest_hex(doc),
        "transaction": "ab" * 32,
        "block": 545,
        "block_hash": "cd" * 32,
        "exchange": "Acme",
    }
    (folder / "anchor.json").write_text(json.dumps(anchor, indent=2) + "\n")
    return folder, book.account_ids, doc["root"]


def shards(folder: Path, out: Path) -> list[Path]:
    code, _, err = run_por("prove", folder, "--all", "--out-dir", out, "-q")
    assert code == 0, err
    return sorted(out.glob("proofs-*.jsonl"))


def edit_first_line(path: Path, edit: Callable[[dict[str, Any]], None]) -> str:
    """Edits the first proof of a shard in place; returns the account id it is for."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    doc = json.loads(lines[0])
    edit(doc)
    lines[0] = json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    return doc["account_id"]


def batch_json(target: Path, *pins: object) -> tuple[int, dict[str, Any]]:
    code, out, err = run_por("verify-inclusion", "--batch", target, *pins, "--json")
    assert code in (0, 1), err
    return code, json.loads(out)


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda d: d["anchor"].update(digest="ab" * 32), OTHER_DIGEST),
        (lambda d: d["anchor"].update(snapshot_id="2025-07"), "not the proof's '2025-06'"),
    ],
    ids=["other-commitment", "other-period"],
)
def test_one_proof_carrying_a_contradicting_anchor_fails_the_batch_by_name(anchored, tmp_path, edit, words):
    folder, ids, _ = anchored
    files = shards(folder, tmp_path / "all")
    edit_first_line(files[1], edit)
    commitment = folder / "commitment.json"
    code, doc = batch_json(tmp_path / "all", "--commitment", commitment)
    failed = [r for r in doc["results"] if not r["verified"]]
    assert code == 1 and not doc["verified"] and doc["proofs"] == len(ids)
    assert [r["source"] for r in failed] == [f"{files[1]}:1"] and failed[0]["state"] == "failed"
    assert any(words in r for r in failed[0]["reasons"]), failed[0]["reasons"]
    assert doc["counts"] == {"verified": len(ids) - 1, "failed": 1}
    code, out, _ = run_por("verify-inclusion", "--batch", tmp_path / "all", "--commitment", commitment)
    said = " ".join(out.split())
    assert code == 1 and "NOT VERIFIED" in said and f"{files[1]}:1" in said and words in said, said


def test_with_only_a_root_both_paths_say_the_anchors_digest_was_not_checked(anchored, tmp_path):
    """A root says which tree, not which commitment document was anchored: the digest cannot be
    compared, the proof still verifies against the root, and both paths say what was left out."""
    folder, ids, root = anchored
    files = shards(folder, tmp_path / "all")
    account = edit_first_line(files[0], lambda d: d["anchor"].update(digest="ab" * 32))
    code, doc = batch_json(tmp_path / "all", "--root", root)
    assert code == 0 and doc["verified"] and doc["not_checked"] == {NOT_COMPARED: len(ids)}
    assert all(NOT_COMPARED in r["not_checked"] for r in doc["results"])
    code, out, _ = run_por("verify-inclusion", "--batch", tmp_path / "all", "--root", root)
    assert code == 0 and f"not checked: {NOT_COMPARED} ({len(ids)} proofs)" in " ".join(out.split()), out
    single = tmp_path / "one.json"
    single.write_text(files[0].read_text(encoding="utf-8").splitlines()[0])
    code, out, _ = run_por("verify-inclusion", single, "--root", root, "--json")
    facts = json.loads(out)
    assert code == 0 and facts["account_id"] == account and NOT_COMPARED in facts["not_checked"]
    code, out, _ = run_por("verify-inclusion", single, "--commitment", folder / "commitment.json")
    assert code == 1 and OTHER_DIGEST in " ".join(out.split())  # with the commitment it is caught


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for key in parents:
            doc = doc[int(key)] if isinstance(doc, list) else doc[key]
        doc[last] = value

    return edit


def _flip_hash(doc: dict[str, Any]) -> None:
    step = doc["leaves"][0]["path"][1]
    step["hash"] = ("1" if step["hash"][0] == "0" else "0") + step["hash"][1:]


def _raise_balance(doc: dict[str, Any]) -> None:
    symbol = next(iter(doc["balances"]))
    doc["leaves"][0]["balances"][symbol] = str(int(doc["leaves"][0]["balances"][symbol].split(".")[0]) + 1)


def _respell(doc: dict[str, Any]) -> None:
    """An amount that parses to the same value, spelled as por never writes it (a trailing zero)."""
    symbol, text = next(iter(doc["balances"].items()))
    doc["balances"][symbol] = text + ("0" if "." in text else ".0")


MUTATIONS: dict[str, Callable[[dict[str, Any]], None]] = {
    "untouched": lambda d: None,
    "anchor-digest": lambda d: d["anchor"].update(digest="ab" * 32),
    "anchor-period": lambda d: d["anchor"].update(snapshot_id="2025-07"),
    "anchor-malformed": lambda d: d["anchor"].update(block=-1),
    "anchor-removed": lambda d: d.pop("anchor"),
    "anchor-and-proof-period": lambda d: (d.update(snapshot_id="2025-07"), d["anchor"].update(snapshot_id="2025-07")),
    "extra-member": _set("surprise", 1),
    "amount-spelling": _respell,
    "balance": _raise_balance,
    "path-hash": _flip_hash,
    "root": _set("root.hash", "00" * 32),
    "leaf-count": lambda d: d.update(leaf_count=d["leaf_count"] + 1),
    "account": _set("account_id", "mallory"),
    "nonce": _set("nonce", "11" * 32),
}


def _normalised(reasons: list[str], source: str) -> list[str]:
    return [r.replace(source, "<proof>") for r in reasons]


@pytest.mark.parametrize("pin", ["commitment", "root", "nothing"])
def test_single_and_batch_verdicts_agree_over_mutated_proofs(anchored, tmp_path, pin):
    """Each mutation of one good proof, verified alone and in a batch (as a .json file and as a line of
    a shard), gets the same state and the same reasons; the anchor mutations are among them."""
    folder, ids, root = anchored
    good = json.loads(run_por("prove", folder, ids[5])[1])
    pins = {"commitment": ["--commitment", folder / "commitment.json"], "root": ["--root", root], "nothing": []}[pin]
    (tmp_path / "batch").mkdir()
    lines, single = [], {}
    for name, mutate in MUTATIONS.items():
        doc = json.loads(json.dumps(good))
        mutate(doc)
        text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
        (tmp_path / "batch" / f"{name}.json").write_text(text, encoding="utf-8")
        lines.append(text + "\n")
        alone = tmp_path / f"{name}.json"
        alone.write_text(text, encoding="utf-8")
        code, out, err = run_por("verify-inclusion", alone, *pins, "--json")
        facts = json.loads(out)
        assert code == (0 if facts["verified"] else 1), err
        single[name] = (facts["state"], _normalised(facts["reasons"], str(alone)))
    shard = tmp_path / "batch" / "mutated.jsonl"
    shard.write_text("".join(lines), encoding="utf-8")
    _, doc = batch_json(tmp_path / "batch", *pins)
    by_source = {r["source"]: (r["state"], _normalised(r["reasons"], r["source"])) for r in doc["results"]}
    assert len(by_source) == 2 * len(MUTATIONS)
    for number, name in enumerate(MUTATIONS, start=1):
        assert by_source[str(tmp_path / "batch" / f"{name}.json")] == single[name], name
        assert by_source[f"{shard}:{number}"] == single[name], name
    expected = {"commitment": "verified", "root": "verified", "nothing": "self-consistent"}[pin]
    assert single["untouched"][0] == single["anchor-removed"][0] == expected
    assert single["anchor-period"][0] == single["balance"][0] == single["amount-spelling"][0] == "failed"
    assert single["anchor-digest"][0] == ("failed" if pin == "commitment" else expected)


def _report() -> str:
    """The first lines of a `por audit --json-out` report (por_kind reads no further)."""
    from por.audit.reconcile import REPORT_FORMAT, REPORT_VERSION

    return json.dumps({"format": REPORT_FORMAT, "version": REPORT_VERSION, "ok": True, "verdict": "pass"}, indent=2)


def test_pors_own_documents_beside_the_proofs_are_skipped_and_named(anchored, tmp_path):
    """A batch folder holding the publication's commitment.json, anchor.json and secrets file and an
    audit report beside the proofs: the proofs verified (exit 0), the four skipped by name, not counted
    as proofs and not a usage mistake; a JSON file that is not por's still fails, as a proof that is not one."""
    folder, ids, _ = anchored
    shards(folder, tmp_path / "all")
    own = {
        "commitment.json": "por-commitment",
        "anchor.json": "por-anchor",
        "private/secrets.jsonl": "por-secrets",  # a .jsonl, whose lines are not proofs either
        "audit/report.json": "por-audit-report",
    }
    (tmp_path / "all" / "audit").mkdir()
    (tmp_path / "all" / "private").mkdir()
    for name in ("commitment.json", "anchor.json", "private/secrets.jsonl"):
        (tmp_path / "all" / name).write_bytes((folder / name).read_bytes())
    (tmp_path / "all" / "audit" / "report.json").write_text(_report())
    commitment = folder / "commitment.json"
    code, doc = batch_json(tmp_path / "all", "--commitment", commitment)
    assert code == 0 and doc["verified"] and doc["proofs"] == len(ids) == doc["counts"]["verified"]
    assert sorted(doc["skipped"]) == sorted(str(tmp_path / "all" / name) for name in own)
    assert not any(r["source"].endswith(tuple(own)) for r in doc["results"])
    code, out, err = run_por("verify-inclusion", "--batch", tmp_path / "all", "--commitment", commitment)
    said = " ".join(out.split())
    assert code == 0 and err == "" and f"VERIFIED {len(ids)} proofs" in said and "NOT VERIFIED" not in said
    assert "skipped 4 of por's own files that are not proofs" in said, said
    assert all(f"{tmp_path / 'all' / name} ({kind})" in said for name, kind in own.items()), said
    code, _, err = run_por("verify-inclusion", "--batch", tmp_path / "all" / "commitment.json")
    assert code == 2 and "not an inclusion proof" in err  # named as the proofs, it is still a mistake
    (tmp_path / "all" / "junk.json").write_text('{"hello": "world"}')
    code, doc = batch_json(tmp_path / "all", "--commitment", commitment)
    failed = [r for r in doc["results"] if not r["verified"]]
    assert (
        code == 1
        and doc["proofs"] == len(ids) + 1
        and [r["source"] for r in failed] == [str(tmp_path / "all" / "junk.json")]
    )
