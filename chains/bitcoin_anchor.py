"""Anchoring on a Bitcoin chain: the commitment's digest in an OP_RETURN output of a transaction that
spends from the exchange's declared anchor address (`anchor_address` in chains.toml), read back
from that address's history.

Payload (68 bytes; standard relay allows 80): `b"por"`, version `0x01`, SHA-256 of the UTF-8
snapshot id (the period), the commitment's digest. Only a transaction spending a coin of the
anchor address is the exchange's (its key alone can spend one): a payload in anyone else's
transaction, even one paying to the anchor address, is never read. Every provider's confirmed
history of the address must agree, so a provider that hides a transaction is caught
(docs/formats/anchor.md). Transactions are built and signed with embit and coincurve.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import coincurve
from embit.script import Script, Witness
from embit.transaction import Transaction, TransactionInput, TransactionOutput

from chains.base import ChainConfig, agreed, gather_all, min_confirmations
from chains.bitcoin import anchor_fee_rate, anchor_script, make_adapter
from chains.bitcoin_address import hash160, p2pkh_script, p2wpkh_script, push
from chains.bitcoin_rpc import BitcoinAdapter, HttpProvider, TxRecord
from por.errors import InputError, ProviderError

TAG = b"por\x01"  # magic and payload version
PAYLOAD_BYTES = len(TAG) + 32 + 32
OP_RETURN = 0x6A
COINBASE_MATURITY = 100
DUST = 546
CONFIRM_TIMEOUT = 3 * 3600.0  # six blocks take an hour on average, and sometimes much longer
POLL_SECONDS = 1.0


def period_of(snapshot_id: str) -> bytes:
    return hashlib.sha256(snapshot_id.encode("utf-8")).digest()


def payload(snapshot_id: str, digest: bytes) -> bytes:
    """The OP_RETURN data: tag, period, digest."""
    if len(digest) != 32:
        raise ValueError("a commitment digest is 32 bytes")
    return TAG + period_of(snapshot_id) + digest


def op_return_script(data: bytes) -> bytes:
    return bytes([OP_RETURN]) + push(data)


def read_payload(script: bytes) -> tuple[bytes, bytes] | str | None:
    """(period, digest) of a por anchor output; a reason when it carries the tag but does not parse
    (a future version, a wrong length: never skipped, so nothing can hide behind one); None if
    the output is not a por anchor."""
    if not script or script[0] != OP_RETURN:
        return None
    data = _single_push(script[1:])
    if data is None or not data.startswith(TAG[:3]):
        return None  # not ours; nor can it pass for one: only what parses here is ever an anchor
    if len(data) != PAYLOAD_BYTES or data[:4] != TAG:
        return f"a por payload of version {data[3] if len(data) > 3 else '?'} and {len(data)} bytes"
    return data[4:36], data[36:]


def _single_push(rest: bytes) -> bytes | None:
    if not rest:
        return None
    op = rest[0]
    if 1 <= op <= 75:
        size, start = op, 1
    elif op == 0x4C and len(rest) >= 2:
        size, start = rest[1], 2
    elif op == 0x4D and len(rest) >= 3:
        size, start = int.from_bytes(rest[1:3], "little"), 3
    else:
        return None
    return rest[start:] if len(rest) == start + size else None


@dataclass(frozen=True)
class BitcoinAnchorRecord:
    """One anchor output: what anchor.json states and what a verifier reads back."""

    chain: str
    address: str  # the anchor address the transaction spends from
    snapshot_id: str
    digest: str  # 64 lower-case hex; or what an unreadable por payload is
    transaction: str  # txid, 64 hex (explorer order)
    block: int
    block_hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "address": self.address,
            "snapshot_id": self.snapshot_id,
            "digest": self.digest,
            "transaction": self.transaction,
            "block": self.block,
            "block_hash": self.block_hash,
        }


# --- whose anchors, which key -----------------------------------------------------------------------
KEY_OPTION = "--anchor-key"  # the anchor address's key sends it


def missing(name: str, config: ChainConfig) -> str | None:
    """Why this chain cannot anchor (None: it can)."""
    return None if config.get("anchor_address") is not None else "no anchor_address (the address anchors are sent from)"


def owner(name: str, config: ChainConfig, signer: str | None, pinned: bool) -> tuple[str, str]:
    """Whose anchors count: the anchor address chains.toml declares (the commitment's signer is not used)."""
    address = anchor_script(name, config)[0]
    return address, (
        f"anchors on {name} are looked up under the anchor address chains.toml declares ({address}): "
        "take it from the exchange through a source you trust; it is the same for every customer and period"
    )


def check_key(name: str, config: ChainConfig, key: bytes, signer: str | None) -> None:
    """The key must be the anchor address's (its P2WPKH or P2PKH)."""
    address, script, kind = anchor_script(name, config)
    if _script_of(key, kind) != script:
        raise InputError(
            f"this key does not control the anchor address {address} of chains.{name}", field="--anchor-key"
        )


def _script_of(key: bytes, kind: str) -> bytes:
    key_hash = hash160(coincurve.PrivateKey(key).public_key.format(compressed=True))
    return p2wpkh_script(key_hash) if kind == "p2wpkh" else p2pkh_script(key_hash)


# --- reading back ------------------------------------------------------------------------------------
async def find_anchors(name: str, config: ChainConfig, exchange: str, snapshot_id: str) -> list[BitcoinAnchorRecord]:
    """Every por anchor for this snapshot id in transactions spending from the anchor address,
    agreed by every provider (and every unreadable por payload of the address, whatever period)."""
    address, script, _ = anchor_script(name, config)
    if exchange != address:
        raise InputError(f"anchors are looked up under {address}, not {exchange[:90]}", field=f"chains.{name}")
    period = period_of(snapshot_id)
    adapter = make_adapter(name, config)
    async with adapter:
        tip = await adapter.tip_height()
        history = await agreed_history(adapter, address, tip)
        found = [(tx, read) for tx in spending_from(history, script.hex()) for read in _payloads(tx)]
        wanted = [(tx, r) for tx, r in found if isinstance(r, str) or r[0] == period]
        hashes = {h: await adapter.block_hash(h) for h in sorted({tx.height for tx, _ in wanted})}
    return [
        BitcoinAnchorRecord(
            name,
            address,
            snapshot_id,
            read if isinstance(read, str) else read[1].hex(),
            tx.txid,
            tx.height,
            hashes[tx.height],
        )
        for tx, read in wanted
    ]


def _payloads(tx: TxRecord) -> list[tuple[bytes, bytes] | str]:
    reads = [read_payload(bytes.fromhex(script)) for _, script, _ in tx.outputs]
    return [r for r in reads if r is not None]


def spending_from(history: Sequence[TxRecord], script_hex: str) -> list[TxRecord]:
    """The transactions that spend a coin of `script_hex` (each only its key can sign), in chain order."""
    funded = {(tx.txid, vout) for tx in history for vout, script, _ in tx.outputs if script == script_hex}
    spenders = [tx for tx in history if any(outpoint in funded for outpoint in tx.spends)]
    return sorted(spenders, key=lambda tx: (tx.height, tx.txid))


async def agreed_history(adapter: BitcoinAdapter, address: str, tip: int) -> list[TxRecord]:
    """The address's confirmed history up to `tip`, the same from every provider."""
    answers = await gather_all([p.histories([address]) for p in _providers(adapter)])
    views = [sorted((tx for tx in a[address] if 0 <= tx.height <= tip), key=lambda tx: tx.txid) for a in answers]
    return agreed(
        adapter.labels,
        views,
        lambda a, b: (
            f"disagree on the history of the anchor address up to height {tip}: {len(a)} vs {len(b)} "
            f"transactions (one hides or invents one: {_first_difference(a, b)})"
        ),
        address=address,
    )


def _providers(adapter: BitcoinAdapter) -> list[HttpProvider]:
    return cast(list[HttpProvider], adapter.providers)  # a Bitcoin adapter holds only these


def _first_difference(a: list[TxRecord], b: list[TxRecord]) -> str:
    only = sorted({tx.txid for tx in a} ^ {tx.txid for tx in b})
    return f"transaction {only[0]}" if only else "a transaction reads differently"


# --- recording ---------------------------------------------------------------------------------------
async def send_anchor(
    name: str, config: ChainConfig, private_key: bytes, snapshot_id: str, digest: bytes
) -> BitcoinAnchorRecord:
    """Spends from the anchor address to an OP_RETURN with the payload and change back to it,
    broadcasts, and waits until every provider has it `min_confirmations` deep."""
    address, script, kind = anchor_script(name, config)
    check_key(name, config, private_key, None)
    for earlier in await find_anchors(name, config, address, snapshot_id):
        if earlier.digest == digest.hex():  # already recorded (a retried run): no second transaction
            return earlier
    adapter = make_adapter(name, config)
    async with adapter:
        tip = await adapter.tip_height()
        coins = await _spendable(adapter, address, script.hex(), tip)
        tx = build_anchor(coins, script, kind, private_key, payload(snapshot_id, digest), anchor_fee_rate(name, config))
        txid = await _broadcast(_providers(adapter), tx.serialize().hex(), tx.txid().hex())
        height, block_hash = await _confirmed(adapter, address, txid, max(1, min_confirmations(name, config)))
    return BitcoinAnchorRecord(name, address, snapshot_id, digest.hex(), txid, height, block_hash)


@dataclass(frozen=True)
class Coin:
    txid: str
    vout: int
    value: int


async def _spendable(adapter: BitcoinAdapter, address: str, script_hex: str, tip: int) -> list[Coin]:
    """Confirmed, mature coins of the address that no transaction any provider knows (mempool too) spends."""
    answers = await gather_all([p.histories([address]) for p in _providers(adapter)])
    seen = [tx for a in answers for tx in a[address]]
    spent = {outpoint for tx in seen for outpoint in tx.spends}
    confirmed = {tx.txid: tx for tx in seen if 0 <= tx.height <= tip}.values()
    coins = [
        Coin(tx.txid, vout, value)
        for tx in confirmed
        if not _is_coinbase(tx) or tip - tx.height + 1 >= COINBASE_MATURITY
        for vout, script, value in tx.outputs
        if script == script_hex and (tx.txid, vout) not in spent
    ]
    return sorted(coins, key=lambda c: (-c.value, c.txid, c.vout))


def _is_coinbase(tx: TxRecord) -> bool:
    return not tx.spends  # every provider leaves a coinbase's null input out


def build_anchor(coins: Sequence[Coin], script: bytes, kind: str, key: bytes, data: bytes, rate: int) -> Transaction:
    """Signed: the fewest largest coins that pay the fee, one OP_RETURN output, change to the anchor address."""
    per_input = 69 if kind == "p2wpkh" else 149  # virtual bytes, rounded up (signatures vary by a byte)
    fixed = 11 + 9 + len(op_return_script(data)) + 9 + len(script)
    chosen: list[Coin] = []
    for coin in coins:
        chosen.append(coin)
        fee = rate * (fixed + per_input * len(chosen))
        if sum(c.value for c in chosen) - fee >= DUST:
            break
    else:
        total = sum(c.value for c in coins)
        raise InputError(
            f"the anchor address holds {total} spendable satoshis ({len(coins)} confirmed coins): not enough for "
            f"the fee at {rate} sat/vB; fund it",
            field="anchor_address",
        )
    tx = Transaction(
        version=2,
        locktime=0,
        vin=[TransactionInput(bytes.fromhex(c.txid), c.vout, sequence=0xFFFFFFFD) for c in chosen],
        vout=[
            TransactionOutput(0, Script(op_return_script(data))),
            TransactionOutput(sum(c.value for c in chosen) - fee, Script(script)),
        ],
    )
    _sign(tx, chosen, script, kind, key)
    return tx


def _sign(tx: Transaction, coins: Sequence[Coin], script: bytes, kind: str, key: bytes) -> None:
    private = coincurve.PrivateKey(key)
    pubkey = private.public_key.format(compressed=True)
    for i, coin in enumerate(coins):
        if kind == "p2wpkh":
            digest = tx.sighash_segwit(i, Script(p2pkh_script(hash160(pubkey))), coin.value)
            tx.vin[i].witness = Witness([private.sign(digest, hasher=None) + b"\x01", pubkey])
        else:
            digest = tx.sighash_legacy(i, Script(script))
            tx.vin[i].script_sig = Script(push(private.sign(digest, hasher=None) + b"\x01") + push(pubkey))


async def _broadcast(providers: Sequence[HttpProvider], raw: str, txid: str) -> str:
    """The first provider that takes it (a node relays it to the others); its txid must be ours."""
    failures = []
    for provider in providers:
        try:
            answer = await provider.broadcast(raw)
        except ProviderError as exc:
            failures.append(f"{exc.provider}: {exc.reason}")
            continue
        if answer != txid:
            raise ProviderError(provider.label, f"accepted the anchor transaction as {answer[:80]!r}, not {txid}")
        return txid
    raise ProviderError("every provider", "refused the anchor transaction: " + "; ".join(failures))


async def _confirmed(adapter: BitcoinAdapter, address: str, txid: str, depth: int) -> tuple[int, str]:
    deadline = time.monotonic() + CONFIRM_TIMEOUT
    while True:
        tip = await adapter.tip_height()
        heights = [
            next((tx.height for tx in a[address] if tx.txid == txid), -1)
            for a in await gather_all([p.histories([address]) for p in _providers(adapter)])
        ]
        if min(heights) >= 0 and tip - max(heights) + 1 >= depth:
            height = agreed(adapter.labels, heights, lambda a, b: f"put the anchor transaction {txid} at {a} vs {b}")
            return height, await adapter.block_hash(height)
        if time.monotonic() > deadline:
            raise ProviderError(
                adapter.name,
                f"the anchor transaction {txid} is broadcast but not {depth} blocks deep after "
                f"{CONFIRM_TIMEOUT:.0f} s; once it is, `por anchor` finds it and writes anchor.json",
            )
        await asyncio.sleep(POLL_SECONDS)
