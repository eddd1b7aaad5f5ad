"""Anchoring on a real bcoin regtest node: `por publish --anchor BTC` spends from the exchange's
anchor address to an OP_RETURN carrying the commitment's digest; `verify-inclusion --anchor` and
`por history --anchor` read the address's history from a node and an Esplora view of it.

The anchor address is funded by mining to it; the test mines a block every half second while
`por` waits for its transaction to be buried `min_confirmations` deep. An OP_RETURN sent by
another key, even one paying to the anchor address, is never the exchange's; a second, different
commitment anchored for one period fails every customer's check; an indexer that hides that
second transaction disagrees with the node, and nothing verifies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from eth_account import Account

from chains.bitcoin_address import NETWORKS, encode_address, p2wsh_script
from chains.bitcoin_anchor import TAG, op_return_script, payload, period_of, read_payload
from fixtures.bitcoin_wallets import coinbase, send, single
from fixtures.esplora import EsploraShim
from fixtures.localchains.bcoin import BcoinNode

CONFIRMATIONS = 2


def por(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "por", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def por_while_mining(node, miner, *args, env=None):
    """Runs `por` while a block is mined every half second (nothing else mines on regtest)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "por", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    deadline = time.monotonic() + 300
    while proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("por did not finish while blocks were mined")
        time.sleep(0.5)
        node.mine(1, miner.address)
    out, err = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("btcanchor")
    with BcoinNode() as node, EsploraShim(node.base_url, node.api_key) as esplora:
        miner, exchange, stranger = single("p2wpkh"), single("p2wpkh"), single("p2wpkh")
        start = node.activate_segwit(miner.address)
        node.mine(2, exchange.address)  # funds the anchor address: two coinbases
        node.mine(1, stranger.address)
        node.mine(100, miner.address)  # coinbase maturity
        (folder / "anchor.key").write_text(exchange.secrets[0].hex() + "\n")
        signer = Account.create()  # signs the commitments (history needs it); Bitcoin anchors do not
        (folder / "sign.key").write_text(signer.key.hex() + "\n")
        (folder / "chains.toml").write_text(
            '[chains.btc]\nfamily = "bitcoin"\nnetwork = "regtest"\nnative_asset = "BTC"\n'
            f'min_confirmations = {CONFIRMATIONS}\nnode_rpc = ["{node.rpc_url}"]\nesplora = ["{esplora.url}"]\n'
            f'anchor_address = "{exchange.address}"\nanchor_fee_rate = 2\n'
        )
        yield {
            "node": node,
            "esplora": esplora,
            "folder": folder,
            "miner": miner,
            "exchange": exchange,
            "stranger": stranger,
            "signer": signer.address,
            "stranger_coin": coinbase(node, start + 3, stranger),
        }


def publish(world, name, snapshot_id, rows, *, anchor=True):
    folder = world["folder"]
    customers = folder / f"{name}.csv"
    customers.write_text("account_id,asset,amount\n" + "".join(f"{a},BTC,{v}\n" for a, v in rows))
    out = folder / name
    args = ["publish", customers, "--exchange", "Acme", "--snapshot-id", snapshot_id, "-o", out]
    args += ["--snapshot-time", "2025-06-30T00:00:00Z", "--sign-key", folder / "sign.key"]
    if anchor:
        args += ["--anchor", "btc", "--config", folder / "chains.toml", "--anchor-key", folder / "anchor.key"]
    done = por_while_mining(world["node"], world["miner"], *args)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def verify(world, publication, account, *extra):
    proof = world["folder"] / f"{publication.name}-{account}.json"
    assert por("prove", publication, account, "-o", proof).returncode == 0
    return por(
        "verify-inclusion",
        proof,
        "--commitment",
        publication / "commitment.json",
        "--anchor",
        "--config",
        world["folder"] / "chains.toml",
        *extra,
    )


def test_the_payload_binds_tag_period_and_digest_in_68_bytes():
    digest = bytes(range(32))
    data = payload("2025-06", digest)
    assert len(data) == 68 <= 80 and data[:4] == TAG
    assert read_payload(op_return_script(data)) == (period_of("2025-06"), digest)
    assert read_payload(bytes.fromhex("0014" + "00" * 20)) is None  # not an OP_RETURN
    assert read_payload(op_return_script(b"hello")) is None  # someone else's OP_RETURN
    unknown = read_payload(op_return_script(b"por\x02" + data[4:]))
    assert isinstance(unknown, str) and "version 2" in unknown  # never skipped: fails closed


@pytest.mark.nodes
def test_an_anchored_commitment_verifies_on_bitcoin(world):
    pub = publish(world, "june", "2025-06", [("alice", "1.5"), ("bob", "2")])
    anchor = json.loads((pub / "anchor.json").read_text())
    doc = json.loads((pub / "commitment.json").read_text())
    assert anchor["chain"] == "btc" and anchor["address"] == world["exchange"].address
    assert anchor["exchange"] == "Acme" and anchor["snapshot_id"] == "2025-06"
    tx = world["node"].tx(anchor["transaction"])
    assert tx["height"] == anchor["block"] and tx["block"] == anchor["block_hash"]
    assert world["node"].height() - tx["height"] + 1 >= CONFIRMATIONS
    op_return = [o["script"] for o in tx["outputs"] if o["script"].startswith("6a")]
    assert op_return == [op_return_script(payload("2025-06", bytes.fromhex(anchor["digest"]))).hex()]
    spent = {(i["prevout"]["hash"], i["prevout"]["index"]) for i in tx["inputs"]}
    assert all(world["node"].tx(h)["outputs"][n]["address"] == world["exchange"].address for h, n in spent)
    assert len(bytes.fromhex(op_return[0])) - 2 == 68
    assert anchor["digest"] == doc["signature"]["digest"]
    done = verify(world, pub, "alice", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    facts = json.loads(done.stdout)
    assert any("the one anchored for snapshot '2025-06', and the only one" in c for c in facts["checked"])
    assert any(world["exchange"].address in n for n in facts["notes"])
    done = por("history", pub, "--signer", world["signer"], "--anchor", "--config", world["folder"] / "chains.toml")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.nodes
def test_proofs_cut_after_anchoring_carry_the_bitcoin_anchor(world):
    pub = world["folder"] / "june"
    anchor = json.loads((pub / "anchor.json").read_text())
    proof = json.loads(por("prove", pub, "alice").stdout)
    assert proof["anchor"] == anchor
    alone = world["folder"] / "carried.json"
    alone.write_text(json.dumps(proof))
    done = por("verify-inclusion", alone, "--commitment", pub / "commitment.json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"anchor claimed: btc, transaction {anchor['transaction']}" in " ".join(done.stdout.split())
    done = por(
        "verify-inclusion", alone, "--commitment", pub / "commitment.json", "--anchor", "--config",
        world["folder"] / "chains.toml",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    said = " ".join(done.stdout.split())
    assert f"the anchor claimed (btc, transaction {anchor['transaction']}) records this commitment" in said
    assert "anchor claimed:" not in said  # checked, so no longer named as a mere claim


@pytest.mark.nodes
def test_an_op_return_from_another_address_is_ignored(world):
    """A stranger's por payload for the same period, paying to the anchor address (so it is in the
    address's history), is not the exchange's: it spends none of the anchor address's coins."""
    pub = publish(world, "august", "2025-08", [("alice", "3")])
    forged = payload("2025-08", bytes(32))
    coin = world["stranger_coin"]
    txid = send(world["node"], [coin], [(op_return_script(forged), 0), (world["exchange"], coin.value - 10_000)])[
        0
    ].txid
    world["node"].mine(CONFIRMATIONS, world["miner"].address)
    history = world["node"].rest("/tx/address", {"addresses": [world["exchange"].address]})
    assert txid in {t["hash"] for t in history}
    done = verify(world, pub, "alice")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.nodes
def test_two_different_commitments_anchored_for_one_period_are_caught(world):
    honest = publish(world, "july-a", "2025-07", [("alice", "1.5"), ("bob", "2")])
    other = publish(world, "july-b", "2025-07", [("alice", "1.5"), ("bob", "0.1")])
    for pub in (honest, other):  # whichever one a customer holds
        done = verify(world, pub, "alice")
        assert done.returncode == 1, done.stdout + done.stderr
        assert "2 different commitments are anchored for snapshot '2025-07'" in " ".join(done.stdout.split())
    done = por("history", honest, "--signer", world["signer"], "--anchor", "--config", world["folder"] / "chains.toml")
    assert done.returncode == 1 and "different commitments are anchored" in " ".join(done.stdout.split())


@pytest.mark.nodes
def test_a_provider_that_hides_the_second_anchor_disagrees_and_nothing_verifies(world):
    """The Esplora view leaves the second July anchor out: it and the node disagree on the anchor
    address's history, so neither commitment verifies (a hidden anchor never makes one pass)."""
    second = json.loads((world["folder"] / "july-b" / "anchor.json").read_text())["transaction"]
    world["esplora"].hide.add(second)
    try:
        done = verify(world, world["folder"] / "july-a", "alice")
    finally:
        world["esplora"].hide.discard(second)
    assert done.returncode == 2, done.stdout + done.stderr
    text = " ".join((done.stdout + done.stderr).split())
    assert "disagree on the history of the anchor address" in text and second in text


@pytest.mark.nodes
def test_a_key_that_is_not_the_anchor_addresss_is_refused_before_any_transaction(world):
    pub = publish(world, "september", "2025-09", [("alice", "3")], anchor=False)
    (world["folder"] / "wrong.key").write_text(os.urandom(32).hex())
    done = por(
        "anchor", pub, "--chain", "btc", "--config", world["folder"] / "chains.toml",
        "--anchor-key", world["folder"] / "wrong.key",
    )  # fmt: skip
    assert done.returncode == 2 and "does not control the anchor address" in done.stderr
    assert not (pub / "anchor.json").exists()
    done = por_while_mining(
        world["node"], world["miner"], "anchor", pub, "--chain", "btc", "--config", world["folder"] / "chains.toml",
        "--anchor-key-env", "POR_TEST_ANCHOR_KEY", env={"POR_TEST_ANCHOR_KEY": world["exchange"].secrets[0].hex()},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((pub / "anchor.json").read_text())["snapshot_id"] == "2025-09"


def test_anchor_address_is_checked_with_the_chain_table(tmp_path):
    (tmp_path / "c.csv").write_text("account_id,asset,amount\na,BTC,1\n")
    base = '[chains.btc]\nfamily = "bitcoin"\nnetwork = "regtest"\nnode_rpc = ["http://127.0.0.1:9"]\n'
    for line, reason in (
        ('anchor_address = "bc1qnotanaddress"\n', "chains.btc.anchor_address"),
        (f'anchor_address = "{encode_address(p2wsh_script(b"multisig"), NETWORKS["regtest"])}"\n', "P2WPKH or P2PKH"),
        ("anchor_fee_rate = 0\n", "anchor_fee_rate"),
    ):
        (tmp_path / "chains.toml").write_text(base + line)
        done = por(
            "publish", tmp_path / "c.csv", "--exchange", "Acme", "-o", tmp_path / "out",
            "--anchor", "btc", "--config", tmp_path / "chains.toml", "--anchor-key", tmp_path / "k",
        )  # fmt: skip
        assert done.returncode == 2 and reason in done.stderr, done.stderr
        assert not (tmp_path / "out").exists()
    (tmp_path / "chains.toml").write_text(base)
    done = por(
        "publish", tmp_path / "c.csv", "--exchange", "Acme", "-o", tmp_path / "out",
        "--anchor", "btc", "--config", tmp_path / "chains.toml",
    )  # fmt: skip
    assert done.returncode == 2 and "no anchor_address" in done.stderr and not (tmp_path / "out").exists()
