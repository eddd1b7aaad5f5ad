"""Every proof at once (`prove --all`) and single lookups through the secrets index (issue 18).

`prove --all` must write, for every account, exactly the proof `prove DIR ID` cuts
(compared as parsed values, and as compact text), in the shard named by the SHA-256
of the id; the index must give the scan's answer for every account and, damaged or
stale, never another customer's proof.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fixtures.liabilities import random_liabilities, run_por, run_por_process, write_customers_csv
from por.amounts import Asset, format_amount
from por.liabilities.allproofs import MANIFEST_FILE, shard_name, shard_of
from por.liabilities.book import Liabilities
from por.liabilities.folder import INDEX_FILE, SECRETS_FILE, not_a_publication
from por.liabilities.inclusion import verify_inclusion
from por.liabilities.porjson import dumps, parse_commitment, parse_proof
from por.liabilities.prooftext import amount_strings
from por.liabilities.prove import cut_proof, find_secret, lookup_secret
from por.liabilities.publish import publish

SNAPSHOT = dict(exchange="Ex", snapshot_id="s1", snapshot_time="2024-06-30T00:00:00Z")
ODD_IDS = ['quote"d', "back\\slash", "客户-ü", "x" * 256, "😀" * 64, "a b"]


def _book(rng: random.Random, accounts: int) -> Liabilities:
    book = random_liabilities(rng, accounts, 4, max_bits=118)
    book.account_ids = ODD_IDS + book.account_ids[len(ODD_IDS) :]
    return book


@pytest.fixture(scope="module", params=[1, 3], ids=["one-leaf", "split"])
def publication(request, tmp_path_factory) -> tuple[Path, Liabilities]:
    tmp = tmp_path_factory.mktemp("all")
    book = _book(random.Random(18 + request.param), 301)
    publish(book, tmp / "pub", max_pieces=request.param, **SNAPSHOT)
    return tmp / "pub", book


def _lines(folder: Path) -> dict[str, str]:
    found = {}
    for path in sorted(folder.glob("proofs-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
            account = json.loads(line)["account_id"]
            assert path.name == shard_name(hashlib.sha256(account.encode()).digest()[0])
            assert account not in found
            found[account] = line
    return found


def test_every_proof_is_the_single_proof(publication, tmp_path):
    folder, book = publication
    code, out, err = run_por("prove", folder, "--all", "--out-dir", tmp_path / "all")
    assert code == 0, err
    lines = _lines(tmp_path / "all")
    assert sorted(lines) == sorted(book.account_ids)
    for account, line in lines.items():
        single = cut_proof(folder, account).to_json()
        assert json.loads(line) == single, account
        assert line == json.dumps(single, separators=(",", ":"), ensure_ascii=False) + "\n"
    manifest = json.loads((tmp_path / "all" / MANIFEST_FILE).read_text())
    assert manifest["proofs"] == manifest["accounts"] == len(book) and sum(manifest["shards"].values()) == len(book)
    assert all(name.startswith("proofs-") for name in manifest["shards"])
    assert (tmp_path / "all").stat().st_mode & 0o077 == 0  # every proof holds a nonce: private


def test_every_proof_verifies(publication, tmp_path):
    folder, _ = publication
    assert run_por("prove", folder, "--all", "--out-dir", tmp_path / "all")[0] == 0
    commitment = parse_commitment(json.loads((folder / "commitment.json").read_text()), "commitment.json")
    for account, line in _lines(tmp_path / "all").items():
        proof = parse_proof(json.loads(line), account)
        assert verify_inclusion(proof, commitment=commitment).ok, account


def test_sample_and_stdout(publication, tmp_path):
    folder, book = publication
    assert run_por("prove", folder, "--all", "--out-dir", tmp_path / "s", "--sample", "17")[0] == 0
    sample = _lines(tmp_path / "s")
    assert len(sample) == 17 and set(sample) <= set(book.account_ids)
    for account, line in sample.items():
        assert json.loads(line) == cut_proof(folder, account).to_json()
    code, out, err = run_por_process("prove", folder, "--all", "--out-dir", "-", "-q")
    assert code == 0, err
    streamed = {json.loads(line)["account_id"]: line for line in out.splitlines(keepends=True)}
    assert streamed == _lines_of_all(folder, tmp_path)


def _lines_of_all(folder: Path, tmp_path: Path) -> dict[str, str]:
    assert run_por("prove", folder, "--all", "--out-dir", tmp_path / "ref", "-q")[0] == 0
    return _lines(tmp_path / "ref")


def test_prove_all_refuses_what_it_cannot_do(publication, tmp_path):
    folder, book = publication
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "mine.txt").write_text("keep")
    for argv, field in (
        (["--all"], "--out-dir"),
        (["--all", "--out-dir", tmp_path / "full"], "not empty"),
        ([book.account_ids[0], "--out-dir", tmp_path / "x"], "--out-dir"),
        (["--all", book.account_ids[0], "--out-dir", tmp_path / "y"], "--all"),
        (["--all", "--out-dir", tmp_path / "z", "--sample", "0"], "--sample"),
    ):
        code, out, err = run_por("prove", folder, *argv)
        assert code == 2 and field in err and "Traceback" not in err, (argv, err)
    assert (tmp_path / "full" / "mine.txt").read_text() == "keep"


def test_secrets_of_another_tree_are_refused(publication, tmp_path):
    """A nonce edited in the secrets would make a proof that fails: refused before any is written."""
    folder, _ = publication
    copy = tmp_path / "pub"
    shutil.copytree(folder, copy)
    lines = (copy / SECRETS_FILE).read_text(encoding="utf-8").splitlines(keepends=True)
    entry = json.loads(lines[40])
    entry["nonce"] = ("0" if entry["nonce"][0] != "0" else "1") + entry["nonce"][1:]
    lines[40] = json.dumps(entry, ensure_ascii=False) + "\n"
    (copy / SECRETS_FILE).write_text("".join(lines), encoding="utf-8")
    code, _, err = run_por("prove", copy, "--all", "--out-dir", tmp_path / "all")
    assert code == 2 and "secrets.jsonl:41" in err and "are not this tree's" in err, err
    assert not (tmp_path / "all").exists()


def test_several_accounts_one_line_each(publication, tmp_path):
    folder, book = publication
    accounts = book.account_ids[:3]
    code, out, err = run_por("prove", folder, *accounts)
    assert code == 0, err
    assert [json.loads(line) for line in out.splitlines()] == [cut_proof(folder, a).to_json() for a in accounts]
    code, out, _ = run_por("prove", folder, accounts[0])
    assert out == dumps(cut_proof(folder, accounts[0]).to_json())  # one account: the document as before


# --- the index ---------------------------------------------------------------------------


def test_index_is_part_of_the_publication_and_finds_every_account(publication):
    folder, book = publication
    assert (folder / INDEX_FILE).exists() and not_a_publication(folder) == ""
    for account in book.account_ids:
        assert lookup_secret(folder, account) == find_secret(folder / SECRETS_FILE, account)
    with pytest.raises(Exception, match="not in this publication"):
        lookup_secret(folder, "nobody")


def _damaged_copy(folder: Path, tmp_path: Path, damage) -> Path:
    copy = tmp_path / "pub"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(folder, copy)
    raw = bytearray((copy / INDEX_FILE).read_bytes())
    damage(raw)
    (copy / INDEX_FILE).write_bytes(bytes(raw))
    return copy


def test_a_damaged_index_never_gives_another_customers_proof(publication, tmp_path):
    folder, book = publication
    start = (folder / INDEX_FILE).read_bytes().index(b"\n") + 1
    count = len(book)
    rng = random.Random(5)

    def swap(raw):  # two offsets exchanged: the order is wrong
        i, j = rng.sample(range(count), 2)
        a, b = raw[start + 8 * i : start + 8 * i + 8], raw[start + 8 * j : start + 8 * j + 8]
        raw[start + 8 * i : start + 8 * i + 8], raw[start + 8 * j : start + 8 * j + 8] = b, a

    def copy_over(raw):  # one offset replaced by another's: an account missing, one twice
        i, j = rng.sample(range(count), 2)
        raw[start + 8 * i : start + 8 * i + 8] = raw[start + 8 * j : start + 8 * j + 8]

    def shift(raw):  # an offset into the middle of a line
        i = rng.randrange(count)
        value = int.from_bytes(raw[start + 8 * i : start + 8 * i + 8], "big") + 3
        raw[start + 8 * i : start + 8 * i + 8] = value.to_bytes(8, "big")

    for damage in (swap, swap, copy_over, copy_over, shift, shift):
        copy = _damaged_copy(folder, tmp_path, damage)
        for account in book.account_ids:
            expected = find_secret(folder / SECRETS_FILE, account)
            try:
                got = lookup_secret(copy, account)
            except Exception as exc:  # reported, with what to do
                assert "index" in str(exc) and ("stale or damaged" in str(exc) or "delete it" in str(exc)), exc
                continue
            assert got == expected, (damage.__name__, account)


def test_a_stale_or_truncated_index_is_reported(publication, tmp_path):
    folder, book = publication
    account = book.account_ids[7]
    stale = _damaged_copy(folder, tmp_path, lambda raw: None)
    with open(stale / SECRETS_FILE, "a", encoding="utf-8") as handle:
        handle.write('{"account_id":"late","nonce":"' + "0" * 64 + '","leaves":[0]}\n')
    code, _, err = run_por("prove", stale, account)
    assert code == 2 and "stale" in err and "index.bin" in err, err
    short = _damaged_copy(folder, tmp_path, lambda raw: raw.__delitem__(slice(-8, None)))
    code, _, err = run_por("prove", short, account)
    assert code == 2 and "index.bin" in err, err
    (short / INDEX_FILE).unlink()  # without the index, prove reads the secrets
    assert run_por("prove", short, account)[0] == 0 and not_a_publication(short) == ""


def test_amount_text_is_format_amount():
    rng = np.random.default_rng(7)
    for decimals in (0, 1, 6, 8, 18, 19, 20, 30, 38, 39, 40, 77):
        lo = rng.integers(0, 2**64 - 1, 2000, dtype=np.uint64, endpoint=True)
        hi = np.where(rng.random(2000) < 0.5, rng.integers(0, 2**64 - 1, 2000, dtype=np.uint64, endpoint=True), 0)
        hi, lo = hi.astype(np.uint64), lo.astype(np.uint64)
        lo[:4], hi[:4] = [0, 1, 2**64 - 1, 10**19], 0
        shifts = rng.integers(0, 64, 400, dtype=np.uint64)  # every magnitude, across the 10^-6 line
        lo[20:420], hi[20:420] = rng.integers(0, 2**64 - 1, 400, dtype=np.uint64, endpoint=True) >> shifts, 0
        edges = [10**38 - 1, 10**38, 2**128 - 1, 10 ** min(decimals, 38), 10**38 - 10 ** max(decimals - 6, 0)]
        # Arrow spells a decimal under 10^-6 in exponent form: the values about that line
        edges += [10 ** max(decimals - 6, 0) + k for k in (-2, -1, 0, 1)] + [10 ** max(decimals - 7, 0), 5, 50]
        for k, value in enumerate(min(max(v, 0), 2**128 - 1) for v in edges):
            hi[4 + k], lo[4 + k] = value >> 64, value & (2**64 - 1)
        expected = [format_amount((int(h) << 64) | int(v), decimals) for h, v in zip(hi, lo)]
        assert amount_strings(hi, lo, decimals).to_pylist() == expected, decimals


def test_ids_needing_json_escapes_in_shards(tmp_path):
    book = Liabilities(assets=[Asset("BTC", 8)], account_ids=ODD_IDS, columns=[list(range(1, len(ODD_IDS) + 1))])
    csv = write_customers_csv(tmp_path / "c.csv", book)
    assert run_por("publish", csv, "--exchange", "Ex", "-o", tmp_path / "pub", "-q")[0] == 0
    assert run_por("prove", tmp_path / "pub", "--all", "--out-dir", tmp_path / "all", "-q")[0] == 0
    lines = _lines(tmp_path / "all")
    assert sorted(lines) == sorted(ODD_IDS)
    assert {p.name for p in (tmp_path / "all").iterdir()} == {MANIFEST_FILE} | {
        shard_name(shard_of(a)) for a in ODD_IDS
    }


# --- verify-inclusion --batch (issue 13 item 9) -------------------------------------------------


def test_batch_verifies_shards_and_single_proofs(publication, tmp_path):
    folder, book = publication
    shards = tmp_path / "all"
    assert run_por("prove", folder, "--all", "--out-dir", shards, "--sample", "40", "-q")[0] == 0
    assert run_por("prove", folder, book.account_ids[3], "-o", shards / "one.json", "-q")[0] == 0
    commitment = folder / "commitment.json"
    code, out, err = run_por_process("verify-inclusion", "--batch", shards, "--commitment", commitment)
    assert code == 0 and err == "" and "VERIFIED 41 proofs" in out and "NOT VERIFIED" not in out, (out, err)
    code, out, _ = run_por("verify-inclusion", "--batch", shards, "--commitment", commitment, "--json")
    doc = json.loads(out)
    assert code == 0 and doc["verified"] and doc["proofs"] == 41 and doc["skipped"] == []
    assert all(r["verified"] and r["state"] == "verified" for r in doc["results"])
    assert {r["account_id"] for r in doc["results"]} <= set(book.account_ids)


def test_batch_without_a_pin_is_self_consistent_only(publication, tmp_path):
    folder, _ = publication
    assert run_por("prove", folder, "--all", "--out-dir", tmp_path / "all", "--sample", "5", "-q")[0] == 0
    code, out, _ = run_por_process("verify-inclusion", "--batch", tmp_path / "all")
    assert code == 1 and "NOT VERIFIED" in out and "self-consistent" in out
    code, out, _ = run_por("verify-inclusion", "--batch", tmp_path / "all", "--json")
    doc = json.loads(out)
    assert code == 1 and not doc["verified"] and doc["counts"] == {"self-consistent": 5}


def test_batch_names_every_failed_proof(publication, tmp_path):
    """Edited values (a balance, a path hash, another snapshot's commitment, broken JSON) each fail:
    exit 1, the count and the reason, the other proofs still verified."""
    folder, _ = publication
    shards = tmp_path / "all"
    assert run_por("prove", folder, "--all", "--out-dir", shards, "-q")[0] == 0
    files = sorted(shards.glob("proofs-*.jsonl"))
    edits = 0
    for path, edit in zip(files, ("balance", "hash", "json")):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        doc = json.loads(lines[0])
        if edit == "balance":
            leaf = doc["leaves"][0]
            symbol = next(iter(leaf["balances"]))
            leaf["balances"][symbol] = str(int(leaf["balances"][symbol].split(".")[0]) + 1)
            doc["balances"] = {k: v for k, v in doc["balances"].items()}
            lines[0] = json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n"
        elif edit == "hash":
            step = doc["leaves"][0]["path"][2]
            step["hash"] = ("1" if step["hash"][0] == "0" else "0") + step["hash"][1:]
            lines[0] = json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n"
        else:
            lines[0] = lines[0][:-40] + "\n"
        path.write_text("".join(lines), encoding="utf-8")
        edits += 1
    code, out, _ = run_por("verify-inclusion", "--batch", shards, "--commitment", folder / "commitment.json", "--json")
    doc = json.loads(out)
    assert code == 1 and not doc["verified"]
    failed = [r for r in doc["results"] if not r["verified"]]
    assert len(failed) == edits and all(r["state"] == "failed" and r["reasons"] for r in failed)
    assert {r["source"] for r in failed} == {f"{p}:1" for p in files[:edits]}
    code, out, _ = run_por_process("verify-inclusion", "--batch", shards, "--commitment", folder / "commitment.json")
    assert code == 1 and f"{edits} not" in out and "failed" in out


def test_batch_usage_errors(publication, tmp_path):
    folder, _ = publication
    (tmp_path / "empty").mkdir()
    for argv, what in (
        ([], "PROOF"),
        (["--batch", tmp_path / "empty"], "no proofs"),
        (["--batch", tmp_path / "missing"], "no such file"),
        (["x.json", "--batch", tmp_path], "--batch"),
    ):
        code, _, err = run_por("verify-inclusion", *argv)
        assert code == 2 and what in err and "Traceback" not in err, (argv, err)


# --- both cores: --jobs (issue 18 item 2) -----------------------------------------------------


@pytest.mark.parametrize("accounts,split", [(1, 1), (2, 1), (4097, 1), (9001, 1), (3000, 3)])
def test_parallel_build_is_byte_identical(tmp_path, accounts, split):
    from por.liabilities.publish import fixed_shuffle

    book = random_liabilities(random.Random(accounts), accounts, 3, max_bits=100)
    shuffle = fixed_shuffle(book, split)
    made = {}
    for jobs in (1, 2, 3):
        out = tmp_path / f"j{jobs}"
        publish(book, out, max_pieces=split, shuffle=shuffle, jobs=jobs, **SNAPSHOT)
        made[jobs] = [(out / name).read_bytes() for name in ("tree.bin", "commitment.json", SECRETS_FILE, INDEX_FILE)]
    assert made[1] == made[2] == made[3]


def test_jobs_option(tmp_path):
    book = random_liabilities(random.Random(3), 500, 2)
    csv = write_customers_csv(tmp_path / "c.csv", book)
    code, out, err = run_por_process("publish", csv, "--exchange", "Ex", "-o", tmp_path / "p", "--jobs", "2")
    assert code == 0, err
    assert (
        run_por("verify-tree", tmp_path / "p" / "tree.bin", "--commitment", tmp_path / "p" / "commitment.json")[0] == 0
    )
    for argv in (["--jobs", "0"], ["--jobs", "2", "--dask", "local"]):
        code, _, err = run_por("publish", csv, "--exchange", "Ex", "-o", tmp_path / "q", *argv)
        assert code == 2 and "--jobs" in err, err


# --- prove --all on both cores, and at scale (issue 18 item 1) -----------------------------------


def test_jobs_cut_the_very_same_files(publication, tmp_path):
    """Workers own whole shards, each written in secrets order: the files are those of one process."""
    folder, _ = publication
    made = {}
    for jobs in (1, 2, 3):
        code, _, err = run_por("prove", folder, "--all", "--out-dir", tmp_path / f"j{jobs}", "--jobs", str(jobs), "-q")
        assert code == 0, err
        made[jobs] = {p.name: p.read_bytes() for p in sorted((tmp_path / f"j{jobs}").iterdir())}
    assert made[1] == made[2] == made[3] and len(made[1]) > 100


def test_a_worker_refusing_the_secrets_fails_the_whole_run(publication, tmp_path):
    folder, _ = publication
    copy = tmp_path / "pub"
    shutil.copytree(folder, copy)
    lines = (copy / SECRETS_FILE).read_text(encoding="utf-8").splitlines(keepends=True)
    entry = json.loads(lines[7])
    entry["nonce"] = ("0" if entry["nonce"][0] != "0" else "1") + entry["nonce"][1:]
    lines[7] = json.dumps(entry, ensure_ascii=False) + "\n"
    (copy / SECRETS_FILE).write_text("".join(lines), encoding="utf-8")
    code, _, err = run_por("prove", copy, "--all", "--out-dir", tmp_path / "all", "--jobs", "2")
    assert code == 2 and "secrets.jsonl:8" in err and "are not this tree's" in err, err
    assert not (tmp_path / "all").exists() and not list(tmp_path.glob(".all.partial-*"))
    code, _, err = run_por("prove", folder, folder.name, "--jobs", "2")
    assert code == 2 and "--jobs" in err, err


def test_a_sample_of_a_200k_book_is_the_single_proofs(tmp_path):
    """At 200,000 accounts (18 levels; two workers), a random sample of `prove --all` lines is
    exactly `prove DIR ID`."""
    rng = random.Random(200)
    lines = ["account_id,asset,amount"]
    for i in range(200_000):
        lines.append(f"c{i},BTC,{rng.randrange(10**9) / 10**8:.8f}")
        if i % 3 == 0:
            lines.append(f"c{i},ETH,{rng.randrange(10**12)}")
    (tmp_path / "c.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, err = run_por("publish", tmp_path / "c.csv", "--exchange", "Ex", "-o", tmp_path / "pub", "-q")
    assert code == 0, err
    out = tmp_path / "sample"
    code, _, err = run_por("prove", tmp_path / "pub", "--all", "--out-dir", out, "--sample", "300", "--jobs", "2", "-q")
    assert code == 0, err
    found = _lines(out)
    assert len(found) == 300
    for account, line in found.items():
        single = cut_proof(tmp_path / "pub", account).to_json()
        assert line == json.dumps(single, separators=(",", ":"), ensure_ascii=False) + "\n", account


def _purge_delay_seen_by(*args: object) -> str:
    """MIMALLOC_PURGE_DELAY as it stood when `por ARGS` first imported pyarrow (mimalloc reads it then)."""
    probe = (
        "import atexit, importlib.abc, os, sys\n"
        "seen = []\n"
        "class Watch(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'pyarrow' and not seen:\n"
        "            seen.append(str(os.environ.get('MIMALLOC_PURGE_DELAY')))\n"
        "sys.meta_path.insert(0, Watch())\n"
        "atexit.register(lambda: print('PURGE', seen[0] if seen else 'pyarrow never loaded'))\n"
        "sys.argv = ['por', *sys.argv[1:]]\n"
        "from por.cli import main\n"
        "main()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MIMALLOC_PURGE_DELAY"}
    command = [sys.executable, "-c", probe, *map(str, args)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.rsplit("PURGE ", 1)[1].strip()


def test_prove_keeps_pyarrows_freed_pages_and_nothing_else_does(monkeypatch, tmp_path):
    """`prove` sets MIMALLOC_PURGE_DELAY=-1 before pyarrow loads (a quarter of prove --all's system
    time was the kernel zeroing pages mimalloc had handed back); other commands, and a value the
    user set, are left alone."""
    from por.cli.liabilities import keep_freed_pages

    book = write_customers_csv(tmp_path / "c.csv", random_liabilities(random.Random(5), 30, 2))
    assert _purge_delay_seen_by("publish", book, "--exchange", "Ex", "-o", tmp_path / "pub", "-q") == "None"
    assert _purge_delay_seen_by("prove", tmp_path / "pub", "--all", "--out-dir", tmp_path / "all", "-q") == "-1"
    monkeypatch.setenv("MIMALLOC_PURGE_DELAY", "250")
    keep_freed_pages()
    assert os.environ["MIMALLOC_PURGE_DELAY"] == "250"
