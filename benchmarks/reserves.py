"""Benchmark: reading 2,000 EVM addresses (native coin and one ERC-20) at a past block.

Not a test. Run: `.venv/bin/python benchmarks/reserves.py [--addresses N]`.

On a real local hardhat node it funds N fresh addresses (hardhat_setBalance in
one JSON-RPC batch, the token by `mintBatch`), mines the snapshot block, then
changes every balance after it. In one run it then times, at the snapshot:
- the adapter with Multicall3 (`aggregate3`, 500 reads per `eth_call`),
- the adapter with JSON-RPC batches only (100 reads per HTTP request),
- the baseline: one `eth_getBalance` / `balanceOf` call per address and asset, in
  sequence, through the same `AsyncWeb3` client,
checks all three return the funded amounts exactly, and prints the times and
ratios. Target: batched >= 10x the sequential baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402
from eth_utils import to_checksum_address  # noqa: E402
from web3 import AsyncHTTPProvider, AsyncWeb3  # noqa: E402

from chains import evm  # noqa: E402
from chains.base import BalanceQuery  # noqa: E402
from chains.evm_rpc import BALANCE_OF  # noqa: E402
from fixtures.localchains.hardhat import HardhatNode, deploy_batch_reader, deploy_token, token_abi  # noqa: E402

MINT_CHUNK = 400  # new storage slots per mintBatch transaction, well under the block gas limit


def fund(node: HardhatNode, token: str, addresses: list[str], native: list[int], units: list[int]) -> None:
    node.set_balances(dict(zip(addresses, native)))
    abi = token_abi()
    for i in range(0, len(addresses), MINT_CHUNK):
        node.transact(
            token, abi, "mintBatch", addresses[i : i + MINT_CHUNK], units[i : i + MINT_CHUNK], gas=16_000_000
        )  # under the 2^24 per-transaction cap of newer forks


async def sequential(url: str, queries: list[BalanceQuery], height: int) -> list[int]:
    """What a script without batching does: one request per address and asset, each awaited in turn."""
    w3 = AsyncWeb3(
        AsyncHTTPProvider(
            url, request_kwargs={"timeout": aiohttp.ClientTimeout(total=30)}, exception_retry_configuration=None
        ),
        middleware=[],
    )
    out = []
    try:
        for q in queries:
            if q.token is None:
                out.append(await w3.eth.get_balance(q.address, height))
            else:
                data = BALANCE_OF + bytes(12) + bytes.fromhex(q.address[2:])
                out.append(int.from_bytes(await w3.eth.call({"to": q.token, "data": data}, height), "big"))
    finally:
        await w3.provider.disconnect()
    return out


async def adapter_read(config: dict, queries: list[BalanceQuery], height: int) -> list[int]:
    async with evm.make_adapter("hardhat", config) as adapter:
        return [r.amount for r in await adapter.balances(queries, height)]


async def timed(coro) -> tuple[float, list[int]]:
    start = time.perf_counter()
    result = await coro
    return time.perf_counter() - start, result


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addresses", type=int, default=2000)
    args = parser.parse_args()
    n = args.addresses

    with HardhatNode() as node:
        t0 = time.perf_counter()
        token = deploy_token(node, "TUSD", 6)
        reader = deploy_batch_reader(node)
        addresses = [to_checksum_address(secrets.token_bytes(20)) for _ in range(n)]
        native = [10**18 + 7919 * i for i in range(n)]
        units = [1_000_000 + 13 * i for i in range(n)]
        fund(node, token, addresses, native, units)
        snapshot = node.mine(1)
        fund(node, token, addresses, [v // 2 for v in native], [1] * n)  # everything moves after it
        node.mine(2)
        print(
            f"setup: {n} addresses funded, snapshot block {snapshot}, tip {node.block_number()}, "
            f"{time.perf_counter() - t0:.1f}s"
        )

        queries = [BalanceQuery(a, "ETH") for a in addresses] + [
            BalanceQuery(a, "TUSD", token=token) for a in addresses
        ]
        expected = native + units
        base = {
            "family": "evm",
            "chain_id": 31337,
            "rpc": [node.url],
            "native_asset": "ETH",
            "tokens": {"TUSD": {"address": token, "decimals": 6}},
        }
        multicall = {**base, "multicall3": reader}

        await adapter_read(multicall, queries[:10], snapshot)  # warm-up: node JIT, connections
        await sequential(node.url, queries[:10], snapshot)
        t_multi, got_multi = await timed(adapter_read(multicall, queries, snapshot))
        t_batch, got_batch = await timed(adapter_read(base, queries, snapshot))
        t_seq, got_seq = await timed(sequential(node.url, queries, snapshot))

    for label, got in (("multicall3", got_multi), ("json-rpc batches", got_batch), ("sequential", got_seq)):
        if got != expected:
            print(f"WRONG: {label} did not return the snapshot balances")
            return 1
    reads = len(queries)
    print(f"{reads} reads ({n} addresses x native + token) at block {snapshot}, all exact:")
    print(f"  sequential, one call each : {t_seq:8.3f}s  ({reads / t_seq:8.0f} reads/s)")
    print(f"  adapter, JSON-RPC batches : {t_batch:8.3f}s  ({reads / t_batch:8.0f} reads/s)  {t_seq / t_batch:6.1f}x")
    print(f"  adapter, multicall3       : {t_multi:8.3f}s  ({reads / t_multi:8.0f} reads/s)  {t_seq / t_multi:6.1f}x")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load} (the node and this client share them)")
    best = t_seq / min(t_batch, t_multi)
    print(f"ratio (sequential / best batched) = {best:.1f}x  target >= 10x: {'met' if best >= 10 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
