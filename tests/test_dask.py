"""A Dask build is the local build: same tree.bin, same secrets, same root and every proof.

Runs on a real LocalCluster of two worker processes; blocks are made small so
the leaves really are spread over many tasks, with a partial last block.
"""

from __future__ import annotations

import random

import pytest

pytest.importorskip("dask.distributed")

from fixtures.liabilities import random_liabilities, run_por, write_customers_csv  # noqa: E402
from fixtures.localchains import free_port  # noqa: E402
from por.liabilities import build, distributed  # noqa: E402
from por.liabilities.build import Shuffle  # noqa: E402
from por.liabilities.porjson import dumps  # noqa: E402
from por.liabilities.prove import cut_proof  # noqa: E402
from por.liabilities.publish import publish  # noqa: E402
from por.liabilities.tree import level_sizes  # noqa: E402
from por.liabilities.treefile import verify_tree_file  # noqa: E402
from por.publication.attestation import read_commitment  # noqa: E402


@pytest.fixture(scope="module")
def scheduler():
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(build, "MIN_BLOCK_LEAVES", 16)


def files(folder):
    return {name: (folder / name).read_bytes() for name in ("tree.bin", "commitment.json", "private/secrets.jsonl")}


@pytest.mark.parametrize("accounts, pieces", [(1, 1), (2, 1), (100, 1), (1000, 1), (333, 4)])
def test_dask_build_is_the_local_build(tmp_path, scheduler, accounts, pieces):
    book = random_liabilities(random.Random(accounts), accounts, 3)
    shuffle = Shuffle.draw(accounts, accounts) if pieces == 1 else None
    common = dict(exchange="x", snapshot_id="s1", snapshot_time="2024-01-01T00:00:00Z")
    if pieces == 1:
        local = publish(book, tmp_path / "local", shuffle=shuffle, **common)
        remote = publish(book, tmp_path / "dask", shuffle=shuffle, dask=scheduler, **common)
        assert remote.root == local.root
        assert files(tmp_path / "dask") == files(tmp_path / "local")
        for account_id in book.account_ids[:200]:
            assert dumps(cut_proof(tmp_path / "dask", account_id).to_json()) == dumps(
                cut_proof(tmp_path / "local", account_id).to_json()
            )
    else:  # splitting is random: the tree must still be whole and exact
        remote = publish(book, tmp_path / "dask", max_pieces=pieces, dask=scheduler, **common)
        assert remote.totals == book.totals
    assert verify_tree_file(tmp_path / "dask" / "tree.bin", remote).ok


@pytest.mark.parametrize("accounts, pieces", [(1, 1), (1000, 1), (333, 4)])
def test_a_dask_build_counts_every_record_it_writes(tmp_path, scheduler, accounts, pieces):
    """The progress bar's total is the tree's records: a Dask build must count to it exactly."""
    book = random_liabilities(random.Random(accounts), accounts, 2)
    counted, expected = [], []
    publish(
        book,
        tmp_path / "dask",
        exchange="x",
        snapshot_id="s1",
        max_pieces=pieces,
        dask=scheduler,
        progress=counted.append,
        expect=expected.append,
    )
    assert expected == [sum(level_sizes(read_commitment(tmp_path / "dask")[3].leaf_count))]
    assert sum(counted) == expected[0]


def test_por_publish_dask_from_the_command_line(tmp_path, scheduler):
    book = random_liabilities(random.Random(3), 500, 2)
    customers = write_customers_csv(tmp_path / "c.csv", book)
    code, out, err = run_por(
        "publish", customers, "--exchange", "Ex", "--out", tmp_path / "pub", "--snapshot-id", "s1", "--dask", scheduler
    )
    assert code == 0, err
    code, out, err = run_por(
        "verify-tree", tmp_path / "pub" / "tree.bin", "--commitment", tmp_path / "pub" / "commitment.json"
    )
    assert code == 0, out + err


def test_an_unreachable_scheduler_is_bad_input(tmp_path, monkeypatch):
    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT", "1s")
    customers = write_customers_csv(tmp_path / "c.csv", random_liabilities(random.Random(1), 5, 1))
    code, _, err = run_por(
        "publish", customers, "--exchange", "Ex", "--out", tmp_path / "pub", "--dask", f"tcp://127.0.0.1:{free_port()}"
    )
    assert code == 2 and err.count("\n") == 1 and "--dask: cannot reach the Dask scheduler" in err, err
    assert not (tmp_path / "pub").exists()
