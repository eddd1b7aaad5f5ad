"""OKX's genuine address file read at a snapshot on a real hardhat node (`--format okx --snapshot --config`).

The genuine ETH addresses of fixtures/conformance/okx/okx_por_example.csv are funded with
`hardhat_setBalance` before the snapshot block S (two of them with exactly the amounts OKX's
rows state, one with another amount), and after S one of them sends funds away as itself
(`hardhat_impersonateAccount`) and another is re-funded: the balances must be the ones at S.
The verified EOA rows count; the contract row (proven by its owner EOAs) is read and shown,
never counted; TON and APTOS rows are not read. Without a node: the `--okx-chain` mapping,
rows of a chain no chains.toml table reads, and the JSON against reserves.schema.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from fixtures.localchains.hardhat import HardhatNode
from por.amounts import format_amount
from por.errors import InputError
from por.reserves.okx_addresses import check_okx_file
from por.reserves.okx_reserves import chain_for

ROOT = Path(__file__).resolve().parent.parent
OKX = ROOT / "fixtures" / "conformance" / "okx"
SCHEMA = json.loads((ROOT / "docs" / "formats" / "reserves.schema.json").read_text())
EOA1, EOA2 = "0x0cdcdb19a857c2ac24818ca4fdfe38cce071483e", "0x16f01cfc16b0b8c3400fb8e5099b0974fcc9fc12"
CONTRACT = "0x57e2dcd253527a0f70c6a3de3556f6e6e163f19c"
AT_SNAPSHOT = {EOA1: 58959708849230328, EOA2: 148960774325814037 + 5, CONTRACT: 148960774325814037}
ETH = 10**18


def por(*args):
    return subprocess.run(
        [sys.executable, "-m", "por", *map(str, args)], capture_output=True, text=True, timeout=300, env=os.environ
    )


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    folder = tmp_path_factory.mktemp("okx")
    with HardhatNode() as node:
        node.set_balances(AT_SNAPSHOT)
        snapshot = node.mine(1)
        node.rpc("hardhat_impersonateAccount", EOA1)
        node.send({"from": EOA1, "to": node.accounts[1], "value": 10**16, "gas": 21000})  # moves after S
        node.set_balances({EOA2: 7 * ETH, CONTRACT: 0})
        node.mine(3)
        (folder / "chains.toml").write_text(
            '[chains.hardhat]\nfamily = "evm"\nchain_id = 31337\nnative_asset = "ETH"\nmin_confirmations = 2\n'
            f'rpc = ["{node.url}", "http://localhost:{node.port}"]\n'
        )
        doc = {
            "format": "por-snapshot",
            "version": 1,
            "snapshot_id": "okx-2026-06",
            "chains": {"hardhat": {"height": snapshot, "block_hash": node.block_hash(snapshot).removeprefix("0x")}},
        }
        (folder / "snapshot.json").write_text(json.dumps(doc))
        yield node, folder, snapshot


def read(folder, *extra):
    return por(
        "reserves",
        OKX / "okx_por_example.csv",
        "--format",
        "okx",
        "--snapshot",
        folder / "snapshot.json",
        "--config",
        folder / "chains.toml",
        *extra,
    )


@pytest.mark.nodes
def test_the_genuine_rows_read_at_the_snapshot_not_at_the_tip(chain):
    node, folder, snapshot = chain
    assert node.balance(EOA1) < AT_SNAPSHOT[EOA1] and node.balance(EOA2) == 7 * ETH  # really moved after S
    done = read(folder, "--okx-chain", "ETH=hardhat", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    jsonschema.validate(doc, SCHEMA)
    got = {r["address"]: r["reading"] for r in doc["rows"]}
    assert got[EOA1]["balance"] == "0.058959708849230328" and got[EOA1]["counted"] and got[EOA1]["flags"] == []
    assert got[EOA2]["balance"] == "0.148960774325814042" and got[EOA2]["counted"]
    assert any("OKX's row states 0.148960774325814037" in f for f in got[EOA2]["flags"])
    assert got[CONTRACT]["balance"] == "0.148960774325814037" and not got[CONTRACT]["counted"]
    assert "contract ownership needs chain state at the snapshot" in got[CONTRACT]["why"]
    assert all(r["height"] == snapshot for r in (got[EOA1], got[EOA2], got[CONTRACT]))
    others = [r["reading"] for r in doc["rows"] if r["coin"] in ("USDT-TON", "APTOS")]
    assert [(r["balance"], r["counted"], r["why"]) for r in others] == [(None, False, "not read: not checked")] * 2
    total = format_amount(AT_SNAPSHOT[EOA1] + AT_SNAPSHOT[EOA2], 18)
    assert doc["assets"] == {"ETH": {"total": total, "rows": 2}} and total == "0.20792048317504437"


@pytest.mark.nodes
def test_the_table_names_the_snapshot_and_the_default_chain_is_the_network_s_name(chain, tmp_path):
    node, folder, _ = chain
    done = read(folder, "--okx-chain", "ETH=hardhat")
    assert done.returncode == 0, done.stderr
    assert "balances at snapshot okx-2026-06" in done.stdout and "2 counted" in done.stdout
    config = tmp_path / "chains.toml"
    config.write_text((folder / "chains.toml").read_text().replace("[chains.hardhat]", "[chains.eth]"))
    snap = json.loads((folder / "snapshot.json").read_text())
    snap["chains"] = {"eth": snap["chains"]["hardhat"]}
    (tmp_path / "snapshot.json").write_text(json.dumps(snap))
    done = read(tmp_path, "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["assets"]["ETH"]["rows"] == 2


@pytest.mark.nodes
def test_the_staking_file_counts_its_eoa_and_reads_no_validator_key(chain):
    node, folder, _ = chain
    done = por(
        "reserves",
        OKX / "okx_por_staking_example.csv",
        "--format",
        "okx",
        "--snapshot",
        folder / "snapshot.json",
        "--config",
        folder / "chains.toml",
        "--okx-chain",
        "eth=hardhat",
        "--json",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    jsonschema.validate(doc, SCHEMA)
    readings = [(r["type"], r["reading"]["balance"], r["reading"]["counted"]) for r in doc["rows"]]
    assert readings == [
        ("Non Staking", "0.058959708849230328", True),
        ("Native ETH Staking", None, False),
        ("Eigenlayer Staking", None, False),
    ]
    assert all("balance not read" in r["reading"]["why"] for r in doc["rows"][1:])
    assert doc["assets"] == {"ETH": {"total": "0.058959708849230328", "rows": 1}}


@pytest.mark.nodes
def test_a_tampered_row_is_read_but_fails_and_is_never_counted(chain, tmp_path):
    node, folder, _ = chain
    text = (OKX / "okx_por_example.csv").read_text().replace(EOA1 + ",0.05", EOA1.replace("0c", "0d", 1) + ",0.05")
    forged = tmp_path / "okx.csv"
    forged.write_text(text)
    done = por(
        "reserves",
        forged,
        "--format",
        "okx",
        "--snapshot",
        folder / "snapshot.json",
        "--config",
        folder / "chains.toml",
        "--okx-chain",
        "ETH=hardhat",
        "--json",
    )
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    row = next(r for r in doc["rows"] if r["line"] == 16)
    assert row["status"] == "failed" and not row["reading"]["counted"]
    assert row["reading"]["why"].startswith("ownership not proven")
    assert doc["assets"]["ETH"]["rows"] == 1


# --- without a node ------------------------------------------------------------------------------------------------
def test_the_okx_chain_mapping_is_checked_before_any_chain_is_reached(tmp_path):
    report = check_okx_file(OKX / "okx_por_example.csv")
    eth, ton = report.verdicts[0], report.verdicts[3]
    chains = {"ethereum": {"family": "evm"}, "btc": {"family": "bitcoin"}}
    assert chain_for(eth, chains, {"ETH": "ethereum"}) == ("ethereum", "")
    assert chain_for(ton, chains, {"ETH": "ethereum"})[0] is None
    assert "no chain in chains.toml for OKX network ETH" in chain_for(eth, chains, {})[1]
    with pytest.raises(InputError, match="is a evm coin, chain btc is bitcoin"):
        chain_for(eth, chains, {"ETH": "btc"})
    with pytest.raises(InputError, match="not in chains.toml"):
        chain_for(eth, chains, {"ETH": "nowhere"})


def test_the_legacy_rows_of_tron_are_verified_but_not_read(tmp_path):
    """OKX's 2023 file: TRON rows verify offline; no chains.toml family reads Tron, so never counted."""
    report = check_okx_file(OKX / "okx_por_example_2023.csv")
    tron = next(v for v in report.verdicts if v.row.coin == "USDT-TRC20")
    chain, why = chain_for(tron, {"trx": {"family": "evm"}}, {})
    assert tron.status == "verified" and chain is None and "no chain in chains.toml for OKX network USDT-TRC20" in why
    chain, why = chain_for(tron, {"usdt-trc20": {"family": "evm"}}, {})
    assert chain is None and "OKX's USDT-TRC20 is a tron coin, chain usdt-trc20 is evm" in why


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--okx-chain", "ETH"], "is not NETWORK=CHAIN"),
        (["--okx-chain", "ETH=a", "--okx-chain", "eth=b"], "mapped twice"),
    ],
)
def test_a_bad_okx_chain_option_is_bad_input(tmp_path, extra, message):
    (tmp_path / "chains.toml").write_text('[chains.eth]\nfamily = "evm"\nchain_id = 1\nrpc = ["http://127.0.0.1:9"]\n')
    (tmp_path / "snapshot.json").write_text(
        json.dumps({"snapshot_id": "s", "chains": {"eth": {"height": 1, "block_hash": "00" * 32}}})
    )
    done = read(tmp_path, *extra)
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_half_of_snapshot_and_config_or_a_mapping_without_them_is_bad_input(tmp_path):
    done = por("reserves", OKX / "okx_por_example.csv", "--format", "okx", "--snapshot", tmp_path / "s.json")
    assert done.returncode == 2 and "--config" in done.stderr
    done = por("reserves", OKX / "okx_por_example.csv", "--format", "okx", "--okx-chain", "ETH=eth")
    assert done.returncode == 2 and "--okx-chain needs --snapshot and --config" in done.stderr


@pytest.mark.parametrize("extra", [["--exchange", "OKX"], ["--custodians", "registry.csv"]])
def test_options_that_mean_nothing_for_okx_are_refused_not_ignored(extra):
    done = por("reserves", OKX / "okx_por_example.csv", "--format", "okx", *extra)
    assert done.returncode == 2 and extra[0] in done.stderr and len(done.stderr.strip().splitlines()) == 1
