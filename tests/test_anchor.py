"""Anchoring on a real hardhat node: `por publish --anchor`, then `verify-inclusion --anchor` and
`por history --anchor` read the registry's events from two providers.

The registry is deployed from the committed bytecode (chains/contracts/PorAnchorRegistry.json),
which a test recompiles from its source with the pinned solc. An exchange that anchors two
different commitments for one period is caught by every customer, whichever one they hold.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account

from chains.evm_anchor import REGISTRY_FILE, registry_artifact
from fixtures.contracts import Compiled
from fixtures.faultproxy import FaultProxy
from fixtures.localchains.hardhat import HardhatNode
from por.liabilities.folder import not_a_publication

ROOT = Path(__file__).resolve().parent.parent


def por(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "por", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=dict(os.environ),
    )


def test_the_committed_registry_is_what_its_source_compiles_to():
    done = subprocess.run(
        [shutil.which("node") or "node", str(ROOT / "chains" / "contracts" / "compile.js")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(REGISTRY_FILE.read_text())


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("anchor")
    with HardhatNode() as node:
        artifact = registry_artifact()
        start = node.block_number() + 1
        registry = node.deploy(Compiled("PorAnchorRegistry", artifact["abi"], artifact["bytecode"]))
        key = Account.create()
        node.fund(key.address, 10**18)
        (folder / "key.hex").write_text(key.key.hex() + "\n")
        (folder / "chains.toml").write_text(
            '[chains.hardhat]\nfamily = "evm"\nchain_id = 31337\nnative_asset = "ETH"\n'
            f'rpc = ["{node.url}", "http://localhost:{node.port}"]\n'
            f'anchor_registry = "{registry}"\nanchor_from_block = {start}\n'
        )
        yield {"node": node, "folder": folder, "key": key, "registry": registry}


def publish(world, name, snapshot_id, rows, *extra):
    folder = world["folder"]
    customers = folder / f"{name}.csv"
    customers.write_text("account_id,asset,amount\n" + "".join(f"{a},BTC,{v}\n" for a, v in rows))
    out = folder / name
    done = por(
        "publish",
        customers,
        "--exchange",
        "Acme",
        "--snapshot-id",
        snapshot_id,
        "--snapshot-time",
        "2025-06-30T00:00:00Z",
        "--sign-key",
        folder / "key.hex",
        "-o",
        out,
        *extra,
    )
    assert done.returncode == 0, done.stderr
    return out


def verify(world, publication, account, *extra):
    proof = world["folder"] / f"{publication.name}-{account}.json"
    assert por("prove", publication, account, "-o", proof).returncode == 0
    return por(
        "verify-inclusion",
        proof,
        "--commitment",
        publication / "commitment.json",
        "--signer",
        world["key"].address,
        "--anchor",
        "--config",
        world["folder"] / "chains.toml",
        *extra,
    )


@pytest.mark.nodes
def test_an_anchored_commitment_verifies_on_chain(world):
    pub = publish(
        world,
        "june",
        "2025-06",
        [("alice", "1.5"), ("bob", "2")],
        "--anchor",
        "hardhat",
        "--config",
        world["folder"] / "chains.toml",
    )
    anchor = json.loads((pub / "anchor.json").read_text())
    receipt = world["node"].rpc("eth_getTransactionReceipt", anchor["transaction"])
    assert int(receipt["blockNumber"], 16) == anchor["block"] and anchor["chain"] == "hardhat"
    assert anchor["exchange"] == world["key"].address and anchor["snapshot_id"] == "2025-06"
    assert anchor["digest"] == json.loads((pub / "commitment.json").read_text())["signature"]["digest"]
    assert not_a_publication(pub) == ""  # anchor.json is part of a publication
    done = verify(world, pub, "alice", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    facts = json.loads(done.stdout)
    assert any("the one anchored for snapshot '2025-06', and the only one" in c for c in facts["checked"])
    done = por(
        "history", pub, "--signer", world["key"].address, "--anchor", "--config", world["folder"] / "chains.toml"
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.nodes
def test_two_different_commitments_anchored_for_one_period_are_caught(world):
    honest = publish(
        world,
        "july-a",
        "2025-07",
        [("alice", "1.5"), ("bob", "2")],
        "--anchor",
        "hardhat",
        "--config",
        world["folder"] / "chains.toml",
    )
    other = publish(
        world,
        "july-b",
        "2025-07",
        [("alice", "1.5"), ("bob", "0.1")],
        "--anchor",
        "hardhat",
        "--config",
        world["folder"] / "chains.toml",
    )
    for pub in (honest, other):  # whichever one a customer holds
        done = verify(world, pub, "alice")
        assert done.returncode == 1, done.stdout + done.stderr
        assert "2 different commitments are anchored for snapshot '2025-07'" in done.stdout
    done = por(
        "history", honest, "--signer", world["key"].address, "--anchor", "--config", world["folder"] / "chains.toml"
    )
    assert done.returncode == 1 and "different commitments are anchored" in done.stdout


@pytest.mark.nodes
def test_a_commitment_never_anchored_fails(world):
    pub = publish(world, "august", "2025-08", [("alice", "3")])
    assert not (pub / "anchor.json").exists()
    done = verify(world, pub, "alice")
    assert done.returncode == 1 and "no commitment is anchored for snapshot '2025-08'" in done.stdout


@pytest.mark.nodes
def test_an_anchor_by_another_key_is_not_the_exchanges(world):
    """Someone else anchoring a different commitment under the same snapshot id changes nothing."""
    pub = publish(
        world,
        "september",
        "2025-09",
        [("alice", "3")],
        "--anchor",
        "hardhat",
        "--config",
        world["folder"] / "chains.toml",
    )
    stranger = Account.create()
    world["node"].fund(stranger.address, 10**18)
    (world["folder"] / "stranger.hex").write_text(stranger.key.hex())
    stranger_pub = world["folder"] / "stranger"
    shutil.copytree(pub, stranger_pub)
    (stranger_pub / "anchor.json").unlink()
    doc = json.loads((stranger_pub / "commitment.json").read_text())
    assert doc["signature"]["signer"] == world["key"].address
    done = por(
        "anchor",
        stranger_pub,
        "--chain",
        "hardhat",
        "--config",
        world["folder"] / "chains.toml",
        "--sign-key",
        world["folder"] / "stranger.hex",
    )
    assert done.returncode == 2 and "must be signed by the anchoring key" in done.stderr
    assert verify(world, pub, "alice").returncode == 0


def test_publish_anchor_options_are_checked_before_any_work(tmp_path):
    (tmp_path / "c.csv").write_text("account_id,asset,amount\na,BTC,1\n")
    done = por("publish", tmp_path / "c.csv", "--exchange", "Acme", "-o", tmp_path / "out", "--anchor", "hardhat")
    assert done.returncode == 2 and "--config" in done.stderr and not (tmp_path / "out").exists()
    (tmp_path / "chains.toml").write_text(
        '[chains.hardhat]\nfamily = "evm"\nchain_id = 31337\nnative_asset = "ETH"\nrpc = ["http://127.0.0.1:9"]\n'
    )
    (tmp_path / "key.hex").write_text(Account.create().key.hex())
    done = por(
        "publish",
        tmp_path / "c.csv",
        "--exchange",
        "Acme",
        "-o",
        tmp_path / "out",
        "--anchor",
        "hardhat",
        "--config",
        tmp_path / "chains.toml",
        "--sign-key",
        tmp_path / "key.hex",
    )
    assert done.returncode == 2 and "no anchor_registry" in done.stderr and not (tmp_path / "out").exists()


@pytest.mark.nodes
def test_a_provider_that_hides_the_second_anchor_event_does_not_verify(world):
    """A fault proxy in front of hardhat drops the second anchor's log from eth_getLogs. Beside an
    honest provider they disagree; alone, the registry's count gives it away. Nothing verifies."""
    honest = publish(world, "october-a", "2025-10", [("alice", "1")], "--anchor", "hardhat", "--config",
                     world["folder"] / "chains.toml")  # fmt: skip
    other = publish(world, "october-b", "2025-10", [("alice", "1"), ("bob", "9")], "--anchor", "hardhat",
                    "--config", world["folder"] / "chains.toml")  # fmt: skip
    second = json.loads((other / "anchor.json").read_text())["transaction"]
    node, text = world["node"], (world["folder"] / "chains.toml").read_text()
    proof = world["folder"] / "october-alice.json"
    assert por("prove", honest, "alice", "-o", proof).returncode == 0
    with FaultProxy(node.url) as proxy:
        proxy.reset(always=f"hide:{second}", only="eth_getLogs")
        for name, rpc in (("both", f'["{node.url}", "{proxy.url}"]'), ("alone", f'["{proxy.url}"]')):
            config = world["folder"] / f"hiding-{name}.toml"
            config.write_text(text.replace(text[text.index("rpc = ") : text.index("\n", text.index("rpc = "))],
                                           f"rpc = {rpc}"))  # fmt: skip
            done = por("verify-inclusion", proof, "--commitment", honest / "commitment.json", "--signer",
                       world["key"].address, "--anchor", "--config", config)  # fmt: skip
            said = " ".join((done.stdout + done.stderr).split())
            assert done.returncode == 2, said
            assert ("disagree on the anchors recorded for '2025-10'" if name == "both" else "counts 2 anchors") in said
        assert proxy.injected, "the proxy hid nothing"
