"""Reserves under attack, on real local hardhat and bcoin nodes.

1. The reserves corpus (fixtures/adversarial/reserves_cases.py): forged ownership proofs,
   double declarations, providers on forks or lying, each through `por reserves`/`por audit`.
2. Provider faults through fixtures/faultproxy.py in front of the real nodes: what is
   retryable is retried and the total comes out exact; what is not fails loudly, naming
   the provider and the address, exit 2, and no partial total is ever printed or written.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from chains import family_module
from chains.base import BalanceQuery
from fixtures.adversarial import REASON_CODES, ROOT, Corpus, cases_in, problems, run_case
from fixtures.adversarial.reserves_cases import EXCHANGE, honest_rows, reserves_world, wallets_csv, write
from fixtures.faultproxy import FaultProxy
from por.errors import ProviderError

pytestmark = pytest.mark.nodes  # real hardhat and bcoin nodes behind fault proxies

EXPECTED = {
    "BTC": {"cold": "9", "hot": "1", "own": "0.5", "total": "10.5"},
    "ETH": {"cold": "96", "hot": "5", "own": "5", "total": "106"},
}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with reserves_world(tmp_path_factory.mktemp("reserves-world")) as running:
        yield running


# --- 1. the corpus ---------------------------------------------------------------------------------


def test_reserves_corpus(world, tmp_path):
    corpus = Corpus(tmp_path / "cases")
    write(corpus, world)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run_case, cases_in(corpus.root)))
    failures = [
        f"{e.case} ({e.attack}): {'; '.join(found)}\n    {o.text[-400:]}"
        for e, o in results
        if (found := problems(e, o))
    ]
    assert not failures, "\n".join(failures)
    codes = {e.reason_code for e, _ in results}
    for code in (
        "WRONG_SIGNER",
        "WRONG_MESSAGE",
        "DUPLICATE_ADDRESS",
        "ALSO_CLAIMED",
        "BELOW_THRESHOLD",
        "SCRIPT_MISMATCH",
        "PROVIDER_FORK",
        "PROVIDER_DISAGREE",
        "PROVIDER_HEIGHT",
        "PROVIDER_FAILED",
    ):
        assert code in codes and code in REASON_CODES, code
    assert len(results) >= 25


# --- 2. provider faults ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def proxies(world):
    c = world.chains
    with FaultProxy(c.hardhat.url) as evm, FaultProxy(c.bcoin.base_url) as node, FaultProxy(c.esplora.url) as esplora:
        yield {"evm": evm, "node": node, "esplora": esplora}


def proxied_toml(world, proxies, *, multicall: bool = True) -> str:
    c = world.chains
    return (
        '[chains.hardhat]\nfamily = "evm"\nchain_id = 31337\n'
        f'rpc = ["{proxies["evm"].url}"]\nnative_asset = "ETH"\nmin_confirmations = 2\n'
        "attempts = 3\ntimeout = 2\nbatch_size = 2\n"
        + (f'multicall3 = "{c.reader}"\n' if multicall else "")
        + '\n[chains.bitcoin]\nfamily = "bitcoin"\nnetwork = "regtest"\nnative_asset = "BTC"\n'
        "min_confirmations = 2\nattempts = 3\ntimeout = 2\nbatch_size = 2\n"
        f'node_rpc = ["{proxies["node"].wrap(c.bcoin.rpc_url)}"]\nesplora = ["{proxies["esplora"].url}"]\n'
    )


def run_reserves(world, proxies, tmp_path, *extra, multicall: bool = True):
    (tmp_path / "wallets.csv").write_text(wallets_csv(honest_rows(world)))
    (tmp_path / "snapshot.json").write_text(json.dumps(world.snapshot))
    (tmp_path / "chains.toml").write_text(proxied_toml(world, proxies, multicall=multicall))
    env = {k: v for k, v in os.environ.items() if k != "POR_DEBUG"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "por",
            "reserves",
            "wallets.csv",
            "--snapshot",
            "snapshot.json",
            "--config",
            "chains.toml",
            "--exchange",
            EXCHANGE,
            "--json",
            *extra,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )


def clean(proxies) -> None:
    for proxy in proxies.values():
        proxy.reset()


# which requests carry balances, per provider (the reads that must be exact)
BALANCE_READS = {"evm": "eth_call", "node": "/tx/address", "esplora": "/txs"}
TRANSIENT = ["status:429", "status:500", "status:503", "drop", "truncate", "delay:4"]


@pytest.mark.parametrize("target", sorted(BALANCE_READS))
@pytest.mark.parametrize("fault", TRANSIENT)
def test_transient_faults_are_retried_and_the_totals_stay_exact(world, proxies, tmp_path, target, fault):
    clean(proxies)
    proxies[target].reset(fault, only=BALANCE_READS[target])
    done = run_reserves(world, proxies, tmp_path)
    assert proxies[target].injected == [fault], "the fault was never hit"
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["assets"] == EXPECTED
    assert "Traceback" not in done.stderr and not done.stderr.strip()


@pytest.mark.parametrize("target", sorted(BALANCE_READS))
@pytest.mark.parametrize("fault", ["status:500", "drop", "truncate", "status:404"])
def test_persistent_faults_fail_loudly_naming_provider_and_address(world, proxies, tmp_path, target, fault):
    clean(proxies)
    proxies[target].reset(always=fault, only=BALANCE_READS[target])
    done = run_reserves(world, proxies, tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    message = lines[0]
    assert message.startswith("por: error: provider ") and f"127.0.0.1:{proxies[target].port}" in message, message
    addresses = [r["address"] for r in honest_rows(world)]
    assert any(address in message for address in addresses), f"no address named: {message}"
    assert "Traceback" not in done.stderr and "internal error" not in message
    assert done.stdout == "", "a partial report was printed"
    if fault != "status:404":  # retryable faults are retried before giving up
        assert len(proxies[target].injected) >= 2, proxies[target].injected


def test_a_failing_chain_leaves_no_partial_audit_report(world, proxies, tmp_path):
    """BTC fails, ETH reads fine: no total, no JSON or HTML report that could pass for a result."""
    clean(proxies)
    proxies["esplora"].reset(always="status:500")
    run_reserves(world, proxies, tmp_path)  # writes the inputs
    pub = world.folder / "pub"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "por",
            "audit",
            "--commitment",
            str(pub / "commitment.json"),
            "--wallets",
            "wallets.csv",
            "--snapshot",
            "snapshot.json",
            "--config",
            "chains.toml",
            "--policy",
            "full-reserve",
            "--json-out",
            "report.json",
            "--html",
            "report.html",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    assert done.returncode == 2 and "provider esplora" in done.stderr, done.stderr
    assert not (tmp_path / "report.json").exists() and not (tmp_path / "report.html").exists()
    assert "PASS" not in done.stdout and "cover" not in done.stdout


def test_a_single_lying_provider_is_not_detectable_so_configure_two(world, proxies, tmp_path):
    """The limit, shown: one tampered provider is believed; a second, honest one exposes it."""
    clean(proxies)
    proxies["evm"].reset(always="tamper", only="eth_getBalance")
    done = run_reserves(world, proxies, tmp_path, multicall=False)
    assert done.returncode == 0
    eth = json.loads(done.stdout)["assets"]["ETH"]
    assert eth["total"] != EXPECTED["ETH"]["total"] and proxies["evm"].injected
    (tmp_path / "chains.toml").write_text(
        proxied_toml(world, proxies, multicall=False).replace(
            f'rpc = ["{proxies["evm"].url}"]', f'rpc = ["{world.chains.hardhat.url}", "{proxies["evm"].url}"]'
        )
    )
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "por",
            "reserves",
            "wallets.csv",
            "--snapshot",
            "snapshot.json",
            "--config",
            "chains.toml",
            "--exchange",
            EXCHANGE,
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=240,
    )
    assert again.returncode == 2 and "disagree on the ETH balance" in again.stderr, again.stderr


async def test_the_error_names_the_address_whose_read_failed(world, proxies):
    """One address's reads always fail (batches of one): the error names that address, not the first."""
    clean(proxies)
    rows = honest_rows(world)
    target = rows[-1]["address"]
    proxies["evm"].reset(always="status:500", only=target)
    config = {
        "family": "evm",
        "chain_id": 31337,
        "rpc": [proxies["evm"].url],
        "native_asset": "ETH",
        "attempts": 2,
        "timeout": 2,
        "batch_size": 1,
    }
    module = family_module("evm")
    queries = [BalanceQuery(r["address"], "ETH") for r in rows if r["chain"] == "hardhat"]
    async with module.make_adapter("hardhat", config) as adapter:
        with pytest.raises(ProviderError) as err:
            await adapter.balances(queries, world.snapshot["chains"]["hardhat"]["height"])
    assert err.value.address == target and err.value.provider == proxies["evm"].url
    assert "HTTP 500" in err.value.reason and "2 attempts" in err.value.reason
    await asyncio.sleep(0)
