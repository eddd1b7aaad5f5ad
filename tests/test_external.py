"""The external-memory build (issue 18 item 3): a book larger than memory, spilled to disk in chunks
and built from sorted runs, must give byte for byte the publication of the in-memory build for the
same nonces and leaf order -- with memory budgets so small that every chunk and run is a few accounts,
at odd sizes, on one process and on several; and must refuse what it cannot do, up front.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

import pytest

from fixtures.liabilities import random_liabilities, run_por, run_por_process
from por.amounts import AssetTable, format_amount
from por.errors import InputError
from por.liabilities import external
from por.liabilities.folder import INDEX_FILE, SECRETS_FILE
from por.liabilities.ingest import load_customers
from por.liabilities.publish import fixed_shuffle, publish

SNAPSHOT = dict(exchange="Ex", snapshot_id="s1", snapshot_time="2024-06-30T00:00:00Z")
FILES = ("tree.bin", "commitment.json", SECRETS_FILE, INDEX_FILE)


def grouped_csv(path: Path, rng: random.Random, accounts: int, assets: int = 4) -> Path:
    """Long form, each account's rows together (as exchanges export); zero balances often left out,
    so a chunk may lack an asset; a few odd ids that JSON must escape or that are not ASCII."""
    book = random_liabilities(rng, accounts, assets, max_bits=100)
    odd = ['quote"d', "back\\slash", "客户-ü", "x" * 256, "a b"]
    ids = (odd + book.account_ids[len(odd) :])[:accounts]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["account_id", "asset", "amount"])
        for i, account in enumerate(ids):
            rows = [
                (account, asset.symbol, format_amount(book.columns[a][i], asset.decimals))
                for a, asset in enumerate(book.assets)
                if book.columns[a][i] or rng.random() < 0.3
            ]
            writer.writerows(rows or [(account, book.assets[0].symbol, "0")])
    return path


def _files(folder: Path) -> list[bytes]:
    return [(folder / name).read_bytes() for name in FILES]


@pytest.mark.parametrize(
    "accounts,chunk_rows,bits,jobs",
    [
        (1, 1, 1, 1),
        (2, 1, 1, 1),
        (3, 2, 1, 2),
        (77, 5, 2, 1),
        (1025, 64, 4, 2),
        (4097, 999, 10, 3),
        (300, 10**6, 20, 1),
    ],
)
def test_disk_build_is_byte_identical(tmp_path, accounts, chunk_rows, bits, jobs, monkeypatch):
    customers = grouped_csv(tmp_path / "c.csv", random.Random(accounts), accounts)
    book = load_customers(customers)
    shuffle = fixed_shuffle(book)
    publish(book, tmp_path / "memory", shuffle=shuffle, jobs=1, **SNAPSHOT)
    monkeypatch.setattr(external, "block_bits_for", lambda *_: bits)
    monkeypatch.setattr(external, "chunk_rows_for", lambda _memory: chunk_rows)
    with external.spilled(customers, AssetTable(), tmp_path / "disk", 1 * 2048) as spilled:
        if chunk_rows < accounts:  # about one account per chunk_rows / 2.5 rows
            assert len(spilled.chunks) >= accounts // chunk_rows
        runs = -(-accounts // (1 << bits))
        assert len(spilled) == len(book) and spilled.assets == book.assets
        publish(spilled, tmp_path / "disk", shuffle=shuffle, jobs=jobs, **SNAPSHOT)
    assert _files(tmp_path / "disk") == _files(tmp_path / "memory"), f"{len(spilled.chunks)} chunks, {runs} runs"
    assert not list(tmp_path.glob(".*.runs-*")), "the spill and its runs are removed"


def test_disk_build_through_the_shell(tmp_path):
    customers = grouped_csv(tmp_path / "c.csv", random.Random(5), 3000)
    code, out, err = run_por_process(
        "publish", customers, "--exchange", "Ex", "-o", tmp_path / "p", "--max-memory", "0.0001"
    )
    assert code == 0, err
    assert "on disk" in out
    code, out, _ = run_por(
        "verify-tree", tmp_path / "p" / "tree.bin", "--commitment", tmp_path / "p" / "commitment.json"
    )
    assert code == 0, out
    code, out, _ = run_por("prove", tmp_path / "p", 'quote"d')
    assert code == 0, out


def test_an_account_in_two_places_is_refused(tmp_path):
    """Chunks are cut after an account's last row; an account found again later cannot be joined."""
    customers = tmp_path / "c.csv"
    rows = [f"u{i},BTC,1" for i in range(50)] + ["u3,ETH,2"]
    customers.write_text("account_id,asset,amount\n" + "\n".join(rows) + "\n")
    with pytest.raises(InputError, match="sort it by account_id"):
        with external.spilled(customers, AssetTable(), tmp_path / "out", 8 * 2048):
            pass
    assert not list(tmp_path.glob(".*.runs-*"))


def test_a_killed_runs_spill_is_removed_by_the_next(tmp_path):
    """The spill holds every id and balance: one left by a killed run must not stay on disk."""
    customers = grouped_csv(tmp_path / "c.csv", random.Random(4), 50)
    stale = tmp_path / ".out.runs-abcdefgh"
    stale.mkdir()
    (stale / "book.bin").write_bytes(b"ids and balances")
    other = tmp_path / ".other.runs-abcdefgh"  # another output's: not ours to remove
    other.mkdir()
    with external.spilled(customers, AssetTable(), tmp_path / "out", 1 << 20) as spilled:
        assert spilled.path.parent.name.startswith(".out.runs-") and spilled.path.parent.stat().st_mode & 0o077 == 0
        assert not stale.exists()
    assert other.exists() and not list(tmp_path.glob(".out.runs-*"))


def test_rows_errors_keep_their_lines(tmp_path):
    """A chunk is checked by the in-memory reader's rules, with the file's own line numbers."""
    customers = tmp_path / "c.csv"
    rows = [f"u{i},BTC,1" for i in range(40)] + ["u40,BTC,-1"] + [f"u{i},BTC,1" for i in range(41, 60)]
    customers.write_text("account_id,asset,amount\n" + "\n".join(rows) + "\n")
    with pytest.raises(InputError) as caught:
        with external.spilled(customers, AssetTable(), tmp_path / "out", 8 * 2048):
            pass
    assert caught.value.line == 42


@pytest.mark.parametrize("first,last", [("Ａlice", "Alice"), ("Alice", "Ａlice"), ("u3", "ｕ29")])
def test_look_alike_ids_across_chunks_are_refused(tmp_path, first, last):
    """The twin is looked for in every chunk of the spill, one at a time (all the ids of a 100M book in
    one Arrow string array pass 2 GiB, which Arrow refuses), whichever chunk holds either one."""
    customers = tmp_path / "c.csv"
    rows = [f"{first},BTC,1"] + [f"u{i},BTC,1" for i in range(30)] + [f"{last},BTC,1"]
    customers.write_text("account_id,asset,amount\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="NFKC"):
        with external.spilled(customers, AssetTable(), tmp_path / "out", 4 * 2048):
            pass


def test_totals_over_128_bits_across_chunks_are_refused(tmp_path):
    customers = tmp_path / "c.csv"
    big = str((1 << 127) + 1)
    customers.write_text(f"account_id,asset,amount\na,WEI,{big}\nb,WEI,{big}\n")
    table = AssetTable()
    (tmp_path / "assets.csv").write_text("asset,decimals\nWEI,0\n")
    table.extend_from_file(tmp_path / "assets.csv")
    with pytest.raises(InputError, match="2\\^128-1"):
        with external.spilled(customers, table, tmp_path / "out", 1 * 2048):
            pass


def test_not_enough_disk_is_refused_up_front(tmp_path, monkeypatch):
    customers = grouped_csv(tmp_path / "c.csv", random.Random(9), 200)
    monkeypatch.setattr(external, "free_bytes", lambda _folder: 10_000)
    code, _, err = run_por("publish", customers, "--exchange", "Ex", "-o", tmp_path / "p")
    assert code == 2 and "not enough disk" in err and "tree.bin" in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "p" / "tree.bin").exists()
    # a book for the disk build is refused on an estimate, before it is read (and again, exactly, after)
    code, _, err = run_por("publish", customers, "--exchange", "Ex", "-o", tmp_path / "q", "--max-memory", "1e-6")
    assert code == 2 and "not enough disk" in err and "about" in err and "sorted runs" in err, err
    assert not list(tmp_path.glob(".*.runs-*")) and not (tmp_path / "q" / "tree.bin").exists()
    monkeypatch.setattr(external, "estimated_needs", lambda _customers: {})
    with external.spilled(customers, AssetTable(), tmp_path / "out", 16 * 2048) as spilled:
        with pytest.raises(InputError, match="sorted runs"):
            publish(spilled, tmp_path / "r", **SNAPSHOT)


def test_the_estimate_is_near_the_truth(tmp_path):
    customers = grouped_csv(tmp_path / "c.csv", random.Random(12), 3000)
    estimate = external.estimated_needs(customers)
    publish(load_customers(customers), tmp_path / "p", **SNAPSHOT)
    tree = (tmp_path / "p" / "tree.bin").stat().st_size
    assert 0.5 * tree <= estimate["tree.bin"] <= 2 * tree


def test_publication_bytes_are_what_publish_writes(tmp_path):
    """tree.bin and the index exactly, the secrets as an upper bound: what the disk check counts."""
    customers = grouped_csv(tmp_path / "c.csv", random.Random(11), 999)
    book = load_customers(customers)
    publish(book, tmp_path / "p", **SNAPSHOT)
    tree = (tmp_path / "p" / "tree.bin").read_bytes()
    id_bytes = sum(len(i.encode()) for i in book.account_ids)
    needs = external.publication_bytes(len(book), len(book), len(book.assets), id_bytes, tree.index(b"\n") + 1)
    assert needs["tree.bin"] == len(tree)
    assert needs["index"] >= (tmp_path / "p" / INDEX_FILE).stat().st_size
    secrets = (tmp_path / "p" / SECRETS_FILE).stat().st_size
    assert secrets <= needs["secrets"] <= 1.2 * secrets


def test_secrets_line_offsets_past_2_gib():
    """A 100M-account secrets file is ~12 GB: line offsets past 2^31 must not wrap (numpy adds a Python
    int to Arrow's int32 offsets in int32; this overflowed at 2.17 GB in the first 100M run)."""
    import io

    import numpy as np
    import pyarrow as pa

    from por.liabilities.secrets import write_secret_lines

    ids = pa.array(["a", "bb", "ccc"])
    handle = io.BytesIO()
    starts, size = write_secret_lines(handle, ids, bytes(96), np.array([2, 0, 1]), (1 << 33) + 5)
    lines = handle.getvalue().split(b"\n")[:-1]
    assert starts.tolist() == [(1 << 33) + 5 + sum(len(x) + 1 for x in lines[:i]) for i in range(3)]
    assert size == (1 << 33) + 5 + len(handle.getvalue())
