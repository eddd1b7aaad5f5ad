"""Anchoring on an EVM chain: a commitment's digest recorded in the registry contract, and read back.

The registry (`chains/contracts/PorAnchorRegistry.sol`, compiled offline with the pinned solc,
bytecode and ABI in `PorAnchorRegistry.json`) keeps exchange -> period -> digest and emits
`Anchored(exchange, period, digest, snapshotId)` for every record; it never refuses or
overwrites one. The exchange is the transaction's sender, the key that signs its commitments;
the period is keccak256 of the snapshot id. Reading back asks every provider for every event
of that exchange and period (they must agree) and checks the registry's `count` at the same
height, so a provider that leaves an event out is caught.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from chains.base import ChainConfig, agreed, gather_all
from chains.evm import checksummed, settings
from chains.evm_rpc import EvmAdapter, Provider
from por.errors import InputError, ProviderError

REGISTRY_FILE = Path(__file__).resolve().parent / "contracts" / "PorAnchorRegistry.json"
ANCHORED = keccak(b"Anchored(address,bytes32,bytes32,string)")
ANCHOR = function_signature_to_4byte_selector("anchor(string,bytes32)")
COUNT = function_signature_to_4byte_selector("count(address,bytes32)")
RECEIPT_TIMEOUT = 600.0


@cache
def registry_artifact() -> dict[str, Any]:
    """The committed ABI and bytecode (`abi`, `bytecode`, `deployedBytecode`, `solc`)."""
    return dict(json.loads(REGISTRY_FILE.read_text()))


def period_of(snapshot_id: str) -> bytes:
    return keccak(snapshot_id.encode("utf-8"))


@dataclass(frozen=True)
class AnchorRecord:
    """One `Anchored` event: what anchor.json states and what a verifier reads back."""

    chain: str
    registry: str
    exchange: str  # checksummed sender
    snapshot_id: str
    digest: str  # 64 lower-case hex
    transaction: str  # 0x-prefixed hash
    block: int
    block_hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "registry": self.registry,
            "exchange": self.exchange,
            "snapshot_id": self.snapshot_id,
            "digest": self.digest,
            "transaction": self.transaction,
            "block": self.block,
            "block_hash": self.block_hash,
        }


def registry_of(name: str, config: ChainConfig) -> str:
    value = config.get("anchor_registry")
    if value is None:
        raise InputError(
            "no anchor_registry: the address of the PorAnchorRegistry contract on this chain",
            field=f"chains.{name}.anchor_registry",
        )
    try:
        return checksummed(value)
    except InputError as exc:
        raise InputError(exc.reason, field=f"chains.{name}.anchor_registry") from None


def _from_block(name: str, config: ChainConfig) -> int:
    value = config.get("anchor_from_block", 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InputError(
            "must be a block height (where the registry was deployed)", field=f"chains.{name}.anchor_from_block"
        )
    return value


# --- whose anchors, which key -----------------------------------------------------------------------
KEY_OPTION = "--sign-key"  # the key that signs the commitment sends it


def missing(name: str, config: ChainConfig) -> str | None:
    """Why this chain cannot anchor (None: it can)."""
    return None if config.get("anchor_registry") is not None else "no anchor_registry (the PorAnchorRegistry contract)"


def owner(name: str, config: ChainConfig, signer: str | None, pinned: bool) -> tuple[str | None, str]:
    """Whose anchors count: the exchange's signing address (pinned with --signer, else the commitment's)."""
    if signer is None:
        return None, "anchor: the commitment is not signed, so there is no exchange address to look its anchor up under"
    note = (
        ""
        if pinned
        else f"anchor looked up under the signer the commitment names ({signer}); pin the "
        "exchange's key with --signer so that it is the exchange's own"
    )
    return checksummed(signer), note


def check_key(name: str, config: ChainConfig, key: bytes, signer: str | None) -> None:
    """The sender is the exchange: the key must be the commitment's signer."""
    if signer is None or signer.lower() != Account.from_key(key).address.lower():
        raise InputError(
            "the commitment must be signed by the anchoring key (the anchor is looked up under the "
            "signer's address): publish with --sign-key",
            field="--sign-key",
        )


# --- recording -------------------------------------------------------------------------------------------
async def send_anchor(
    name: str, config: ChainConfig, private_key: bytes, snapshot_id: str, digest: bytes
) -> AnchorRecord:
    """Signs and sends `anchor(snapshotId, digest)` from the key; waits until every provider has the receipt."""
    registry = registry_of(name, config)
    account = Account.from_key(private_key)
    data = "0x" + (ANCHOR + abi_encode(["string", "bytes32"], [snapshot_id, digest])).hex()
    adapter = EvmAdapter(settings(name, config))
    async with adapter:
        first = adapter.evm_providers[0]
        nonce = int(await first.request("eth_getTransactionCount", [account.address, "pending"]), 16)
        call = {"from": account.address, "to": registry, "data": data}
        gas = int(await first.request("eth_estimateGas", [call]), 16)
        price = int(await first.request("eth_gasPrice", []), 16)
        tx = {
            "chainId": adapter.settings.chain_id,
            "nonce": nonce,
            "to": registry,
            "data": data,
            "value": 0,
            "gas": gas * 5 // 4 + 10_000,
            "gasPrice": price,
        }
        raw = "0x" + bytes(account.sign_transaction(tx).raw_transaction).hex()
        tx_hash = str(await first.request("eth_sendRawTransaction", [raw])).lower()
        receipts = await gather_all([_receipt(p, tx_hash) for p in adapter.evm_providers])
        receipt = agreed(
            adapter.labels,
            [(r["blockHash"], r["blockNumber"], r["status"]) for r in receipts],
            lambda a, b: f"disagree on the anchor transaction's block: {a} vs {b}",
        )
        if int(receipt[2], 16) != 1:
            raise ProviderError(first.label, f"the anchor transaction {tx_hash} reverted")
    return AnchorRecord(
        name, registry, account.address, snapshot_id, digest.hex(), tx_hash, int(receipt[1], 16), receipt[0].lower()
    )


async def _receipt(provider: Provider, tx_hash: str) -> dict[str, Any]:
    deadline = time.monotonic() + RECEIPT_TIMEOUT
    while True:
        receipt = await provider.request("eth_getTransactionReceipt", [tx_hash])
        if isinstance(receipt, dict) and receipt.get("blockHash"):
            return receipt
        if time.monotonic() > deadline:
            raise ProviderError(provider.label, f"anchor transaction {tx_hash} not mined after {RECEIPT_TIMEOUT:.0f} s")
        await asyncio.sleep(1.0)


# --- reading back ----------------------------------------------------------------------------------------
async def find_anchors(name: str, config: ChainConfig, exchange: str, snapshot_id: str) -> list[AnchorRecord]:
    """Every `Anchored` event of `exchange` for this snapshot id, agreed by every provider and counted."""
    registry, start = registry_of(name, config), _from_block(name, config)
    exchange = checksummed(exchange)
    period = period_of(snapshot_id)
    adapter = EvmAdapter(settings(name, config))
    async with adapter:
        tip = await adapter.tip_height()
        topics = ["0x" + ANCHORED.hex(), "0x" + bytes(12).hex() + exchange[2:].lower(), "0x" + period.hex()]
        per_provider = await gather_all([_logs(p, registry, topics, start, tip) for p in adapter.evm_providers])
        logs = agreed(
            adapter.labels,
            per_provider,
            lambda a, b: (
                f"disagree on the anchors recorded for {snapshot_id!r}: {len(a)} vs {len(b)} "
                "events (one hides or invents an anchor)"
            ),
            address=registry,
        )
        count_call = "0x" + (COUNT + abi_encode(["address", "bytes32"], [exchange, period])).hex()
        counts = await gather_all(
            [
                p.request("eth_call", [{"to": registry, "data": count_call}, hex(tip)], registry)
                for p in adapter.evm_providers
            ]
        )
        count = agreed(
            adapter.labels,
            [int(c, 16) if isinstance(c, str) and c != "0x" else -1 for c in counts],
            lambda a, b: f"disagree on the registry's count: {a} vs {b}",
            address=registry,
        )
    if count < 0:
        raise ProviderError(name, f"no PorAnchorRegistry at {registry} at height {tip}", address=registry)
    records = [_record(name, registry, log) for log in logs]
    if count != len(records):
        raise ProviderError(
            name,
            f"the registry counts {count} anchors for {snapshot_id!r} but its events show "
            f"{len(records)}: a provider leaves events out (or anchor_from_block is after one)",
            address=registry,
        )
    return records


async def _logs(
    provider: Provider, registry: str, topics: list[str], start: int, tip: int, chunk: int = 10_000
) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for low in range(start, tip + 1, chunk):
        high = min(low + chunk - 1, tip)
        logs = await provider.request(
            "eth_getLogs",
            [{"address": registry, "topics": topics, "fromBlock": hex(low), "toBlock": hex(high)}],
            registry,
        )
        if not isinstance(logs, list):
            raise ProviderError(provider.label, "eth_getLogs did not return a list", address=registry)
        for log in logs:
            try:
                out.append(
                    (
                        log["transactionHash"].lower(),
                        log["blockNumber"],
                        log["blockHash"].lower(),
                        log["data"].lower(),
                        log["topics"][1].lower(),
                        log["logIndex"],
                    )
                )
            except (KeyError, TypeError, IndexError, AttributeError):
                raise ProviderError(provider.label, "malformed log", address=registry) from None
    return out


def _record(name: str, registry: str, log: tuple[str, ...]) -> AnchorRecord:
    tx_hash, block, block_hash, data, exchange_topic, _ = log
    try:
        digest, snapshot_id = abi_decode(["bytes32", "string"], bytes.fromhex(data[2:]))
    except Exception:  # eth_abi's DecodingError and friends: the provider's data is untrusted
        raise ProviderError(name, f"an Anchored event in {tx_hash} does not decode", address=registry) from None
    return AnchorRecord(
        name,
        registry,
        to_checksum_address("0x" + exchange_topic[-40:]),
        snapshot_id,
        bytes(digest).hex(),
        tx_hash,
        int(block, 16),
        block_hash,
    )
