"""The Bitcoin adapter's wire side: address histories from bcoin and Esplora, replayed to a height.

An address's balance at height H is what its exact output script received in
blocks <= H minus what of that was spent in blocks <= H. Two provider kinds
read the history: a node with an address index (bcoin's REST `/tx/address`,
batched; height and hashes over its Bitcoin Core-compatible JSON-RPC) and
Esplora's REST API. Outputs are matched by exact script, never by address or
hash: bcoin's index is keyed by hash, so the P2PKH and P2WPKH of one key share
an entry, and so do a P2TR and the P2WSH of the same 32 bytes. Every request goes through one `chains._http.Transport`.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from yarl import URL

from chains._http import Transient, Transport, TransportSettings
from chains.base import AgreeingAdapter, BalanceQuery, BalanceReading, gather_all
from chains.bitcoin_address import Network, decode_address, encode_address, witness_script_pubkey
from por.errors import InputError, ProviderError

MAX_SATS = 21_000_000 * 100_000_000
_HASH_RE = re.compile(r"[0-9a-f]{64}\Z")
_NULL_HASH = "0" * 64


def output_script(query: BalanceQuery, net: Network) -> str:
    """The exact script a query's outputs must carry (the query's own, else its address's)."""
    if query.script:
        return query.script.lower()
    try:
        return decode_address(query.address, net).script.hex()
    except ValueError as exc:
        raise InputError(f"{query.address[:90]!r}: {exc}", field="address") from None


def index_address(address: str, net: Network) -> str:
    """The spelling a bcoin address index is asked with. bcoin (1.0.2) cannot parse bech32m, so a P2TR
    is asked for by the bech32 (P2WSH) spelling of its 32-byte program: the index is keyed by those
    bytes alone, and the exact-script match then keeps only the P2TR's own outputs."""
    decoded = decode_address(address, net)
    if decoded.version < 1:
        return address
    return encode_address(witness_script_pubkey(0, decoded.program), net)


# --- history replay (pure) ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TxRecord:
    txid: str
    height: int  # -1 while unconfirmed
    outputs: tuple[tuple[int, str, int], ...]  # (vout, script hex, value in satoshis)
    spends: tuple[tuple[str, int], ...]  # outpoints this transaction spends


def balance_at(history: Iterable[TxRecord], script_hex: str, height: int) -> int:
    """Satoshis the exact script holds at `height`: funded minus spent, both in blocks <= height."""
    txs = {tx.txid: tx for tx in history if 0 <= tx.height <= height}
    funded = {
        (tx.txid, vout): value for tx in txs.values() for vout, script, value in tx.outputs if script == script_hex
    }
    spent = {outpoint for tx in txs.values() for outpoint in tx.spends if outpoint in funded}
    return sum(value for outpoint, value in funded.items() if outpoint not in spent)


# --- providers -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BitcoinSettings:
    network: Network
    batch_size: int = 100  # addresses per bcoin /tx/address request
    transport: TransportSettings = field(default_factory=TransportSettings)


class HttpProvider:
    """What bcoin and Esplora share: base URL without credentials, one transport, answer checks."""

    kind = ""

    def __init__(self, url: str, settings: BitcoinSettings) -> None:
        parsed = URL(url)
        self.base = parsed.with_user(None).with_password(None)
        credentials = f"{parsed.user or ''}:{parsed.password}".encode() if parsed.password else None
        self.headers = {"Authorization": "Basic " + base64.b64encode(credentials).decode()} if credentials else {}
        self.label = f"{self.kind} {self.base}"  # names the provider in errors, never its credentials
        self.settings = settings
        self.session: aiohttp.ClientSession | None = None
        self.transport = Transport(self.label, settings.transport)

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        address: str | None = None,
        text: bool = False,
        data: str | None = None,
    ) -> Any:
        """One HTTP call under the transport policy (retries on transient faults); else a ProviderError.
        `body` is sent as JSON, `data` as plain text."""
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.transport.timeout))
        url = str(self.base).rstrip("/") + path
        return await self.transport.call(lambda: self._once(method, url, body, text, address, data), address=address)

    async def _once(
        self, method: str, url: str, body: Any, text: bool, address: str | None, data: str | None = None
    ) -> Any:
        assert self.session is not None
        sent = {"json": body} if data is None else {"data": data.encode()}
        async with self.session.request(method, url, headers=self.headers, **sent) as resp:
            if resp.status == 429 or resp.status >= 500:
                raise Transient(f"HTTP {resp.status} from {url}")
            if resp.status != 200:
                raise ProviderError(
                    self.label, f"HTTP {resp.status} from {url}: {(await resp.text())[:200]}", address=address
                )
            try:
                return (await resp.text()).strip() if text else await resp.json(content_type=None)
            except (aiohttp.ContentTypeError, ValueError) as exc:
                raise ProviderError(self.label, f"unreadable answer from {url}: {exc}", address=address) from None

    def bad(self, what: str, address: str | None = None) -> ProviderError:
        return ProviderError(self.label, f"malformed answer: {what}", address=address)

    def block_hash_of(self, value: Any, height: int) -> str:
        if not isinstance(value, str) or not _HASH_RE.match(value.lower()):
            raise self.bad(f"block hash at {height} is {str(value)[:80]!r}")
        return value.lower()

    def sats(self, value: Any, address: str | None) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SATS:
            raise self.bad(f"output value {str(value)[:40]!r} is not satoshis", address)
        return value

    async def amounts(self, queries: Sequence[BalanceQuery], height: int) -> list[int]:
        """Each query's satoshis at `height`, replayed from its address's confirmed history."""
        addresses = list(dict.fromkeys(q.address for q in queries))
        histories = await self.histories(addresses)
        return [balance_at(histories[q.address], output_script(q, self.settings.network), height) for q in queries]

    async def tip_height(self) -> int:
        raise NotImplementedError

    async def block_hash(self, height: int) -> str:
        raise NotImplementedError

    async def histories(self, addresses: list[str]) -> dict[str, list[TxRecord]]:
        raise NotImplementedError

    async def broadcast(self, raw_hex: str) -> str:
        """Submits a signed transaction; returns the txid the provider gives it (an anchor, docs/formats/anchor.md)."""
        raise NotImplementedError

    async def aclose(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None


class NodeProvider(HttpProvider):
    """A node with an address index: bcoin (JSON-RPC for heights and hashes, REST for address history)."""

    kind = "node_rpc"

    async def rpc(self, method: str, *params: Any) -> Any:
        answer = await self.request("POST", "/", body={"method": method, "params": list(params), "id": 1})
        if not isinstance(answer, dict):
            raise self.bad(f"{method} did not return a JSON-RPC object")
        if answer.get("error"):
            raise ProviderError(self.label, f"{method}: {str(answer['error'])[:200]}")
        return answer.get("result")

    async def tip_height(self) -> int:
        height = await self.rpc("getblockcount")
        if isinstance(height, bool) or not isinstance(height, int) or height < 0:
            raise self.bad(f"getblockcount returned {height!r}")
        return height

    async def block_hash(self, height: int) -> str:
        return self.block_hash_of(await self.rpc("getblockhash", height), height)

    async def broadcast(self, raw_hex: str) -> str:
        return str(await self.rpc("sendrawtransaction", raw_hex)).lower()

    async def histories(self, addresses: list[str]) -> dict[str, list[TxRecord]]:
        """Batches of addresses per request; the union of their histories serves each of them."""
        size = self.settings.batch_size
        batches = [addresses[i : i + size] for i in range(0, len(addresses), size)]
        answers = await gather_all([self._batch(batch) for batch in batches])
        return {address: records for batch, records in zip(batches, answers) for address in batch}

    def _asked(self, batch: list[str]) -> list[str]:
        return [index_address(a, self.settings.network) for a in batch]

    async def _batch(self, batch: list[str]) -> list[TxRecord]:
        named = batch[0] + (f" (and {len(batch) - 1} more in the batch)" if len(batch) > 1 else "")
        txs = await self.request("POST", "/tx/address", body={"addresses": self._asked(batch)}, address=named)
        if not isinstance(txs, list):
            raise self.bad("/tx/address did not return a list", named)
        return [self._record(tx, named) for tx in txs]

    def _record(self, tx: Any, address: str) -> TxRecord:
        try:
            outputs = tuple(
                (i, out["script"].lower(), self.sats(out["value"], address)) for i, out in enumerate(tx["outputs"])
            )
            spends = tuple(
                (inp["prevout"]["hash"].lower(), inp["prevout"]["index"])
                for inp in tx["inputs"]
                if inp["prevout"]["hash"] != _NULL_HASH  # a coinbase spends nothing (as Esplora shows it)
            )
            height = tx["height"]
            if not isinstance(height, int):
                raise TypeError
            return TxRecord(tx["hash"].lower(), height, outputs, spends)
        except (KeyError, TypeError, IndexError, AttributeError):
            raise self.bad("a transaction lacks hash, height, inputs or outputs", address) from None


class EsploraProvider(HttpProvider):
    """Esplora REST: /blocks/tip/height, /block-height/:h, /address/:a/txs[/chain/:last_seen]."""

    kind = "esplora"

    async def tip_height(self) -> int:
        text = await self.request("GET", "/blocks/tip/height", text=True)
        if not text.isdigit():
            raise self.bad(f"tip height {text[:40]!r}")
        return int(text)

    async def block_hash(self, height: int) -> str:
        return self.block_hash_of(await self.request("GET", f"/block-height/{height}", text=True), height)

    async def broadcast(self, raw_hex: str) -> str:
        return str(await self.request("POST", "/tx", data=raw_hex, text=True)).lower()

    async def histories(self, addresses: list[str]) -> dict[str, list[TxRecord]]:
        answers = await gather_all([self._history(a) for a in addresses])
        return dict(zip(addresses, answers))

    async def _history(self, address: str) -> list[TxRecord]:
        """Every page, newest first, until one comes back empty (page sizes differ between servers)."""
        records: dict[str, TxRecord] = {}
        path = f"/address/{address}/txs"
        while True:
            page = await self.request("GET", path, address=address)
            if not isinstance(page, list):
                raise self.bad(f"{path} did not return a list", address)
            confirmed = [self._record(tx, address) for tx in page]
            confirmed = [r for r in confirmed if r.height >= 0]
            if not confirmed:
                return list(records.values())
            if any(r.txid in records for r in confirmed):
                raise self.bad(f"pagination repeats transaction {confirmed[0].txid}", address)
            records.update((r.txid, r) for r in confirmed)
            path = f"/address/{address}/txs/chain/{confirmed[-1].txid}"

    def _record(self, tx: Any, address: str) -> TxRecord:
        try:
            status = tx["status"]
            height = status["block_height"] if status["confirmed"] else -1
            outputs = tuple(
                (i, out["scriptpubkey"].lower(), self.sats(out["value"], address)) for i, out in enumerate(tx["vout"])
            )
            spends = tuple((inp["txid"].lower(), inp["vout"]) for inp in tx["vin"] if not inp.get("is_coinbase"))
            if not isinstance(height, int):
                raise TypeError
            return TxRecord(tx["txid"].lower(), height, outputs, spends)
        except (KeyError, TypeError, IndexError, AttributeError):
            raise self.bad("a transaction lacks txid, status, vin or vout", address) from None


# --- the adapter -------------------------------------------------------------------------------------------------
class BitcoinAdapter(AgreeingAdapter):
    """Reads every provider; any disagreement between them is a ProviderError naming both, and the
    snapshot block must not change while the histories are read."""

    def __init__(self, name: str, providers: Sequence[HttpProvider], net: Network) -> None:
        super().__init__(name, providers)
        self.network = net

    async def balances(self, queries: Sequence[BalanceQuery], height: int) -> list[BalanceReading]:
        before = await self.block_hash(height)
        readings = await super().balances(queries, height)
        if await self.block_hash(height) != before:
            raise ProviderError(self.name, f"the block at height {height} changed while reading: a reorganisation")
        return readings
