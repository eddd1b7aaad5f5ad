"""Bitcoin family: balances at a height by replaying address history, and ownership proofs.

An address's balance at height H is what its exact output script received in
blocks <= H minus what of that was spent in blocks <= H. Two provider kinds
read the history: a node with an address index (bcoin's REST `/tx/address`,
batched; height and hashes over its Bitcoin Core-compatible JSON-RPC) and
Esplora's REST API. Every configured provider is read and they must agree.
Outputs are matched by exact script, never by address or hash: bcoin's index
is keyed by hash, so the P2PKH and P2WPKH of one key share an entry.
"""

from __future__ import annotations

import asyncio
import base64
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import aiohttp
from aiolimiter import AsyncLimiter
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential
from yarl import URL

from chains.base import BalanceQuery, BalanceReading, ChainAdapter, agreed
from chains.bitcoin_address import NETWORKS, Decoded, Network, decode_address
from chains.bitcoin_proofs import (
    ProofError,
    verify_bip137_single,
    verify_bip322_p2wpkh,
    verify_multisig_bip137,
    verify_multisig_bip322,
)
from chains.records import DeclaredWallet, OwnershipResult, Scheme
from por.errors import InputError, ProviderError

CONFIG_KEYS = {"family", "network", "native_asset", "min_confirmations", "node_rpc", "esplora", "timeout",
               "retries", "concurrency", "rate_limit", "batch_size"}
MAX_SATS = 21_000_000 * 100_000_000
_HASH_RE = re.compile(r"[0-9a-f]{64}\Z")


# --- the family-module contract ------------------------------------------------------------------------
def network(config: dict[str, Any]) -> Network:
    name = config.get("network", "bitcoin")
    if name not in NETWORKS:
        raise InputError(f"{name!r} is not one of {', '.join(NETWORKS)}", field="network")
    return NETWORKS[name]


def validate_address(address: str, config: dict[str, Any]) -> str:
    try:
        return decode_address(address, network(config)).address
    except ValueError as exc:
        raise InputError(f"{address[:90]!r}: {exc}", field="address") from None


def balance_query(wallet: DeclaredWallet, config: dict[str, Any]) -> BalanceQuery:
    native = config.get("native_asset", "BTC")
    if wallet.asset != native:
        raise InputError(f"a Bitcoin-family chain holds only {native}, not {wallet.asset}", field="asset")
    decoded = decode_address(validate_address(wallet.address, config), network(config))
    return BalanceQuery(wallet.address, wallet.asset, None, decoded.script.hex())


def verify_ownership(wallet: DeclaredWallet, expected_message: str, config: dict[str, Any]) -> OwnershipResult:
    """Pure: the message binds this exchange, snapshot and address, and the signature(s) prove control."""
    if wallet.message != expected_message:
        return OwnershipResult(False, f"signed message {wallet.message[:200]!r} is not the expected "
                                      f"{expected_message!r}")
    try:
        decoded = decode_address(wallet.address, network(config))
    except ValueError as exc:
        return OwnershipResult(False, f"address: {exc}")
    try:
        return OwnershipResult(True, _verify(decoded, wallet))
    except ProofError as exc:
        return OwnershipResult(False, str(exc))


def _verify(decoded: Decoded, wallet: DeclaredWallet) -> str:
    try:
        script = bytes.fromhex(wallet.script.removeprefix("0x")) if wallet.script else None
    except ValueError:
        raise ProofError("script is not hex") from None
    sigs = wallet.signatures
    if decoded.kind == "p2wsh" or (decoded.kind == "p2sh" and script is not None):
        if wallet.scheme == Scheme.BIP137:
            if script is None:
                raise ProofError("a multisig address needs its redeem / witness script in `script`")
            return "multisig, BIP-137: " + verify_multisig_bip137(decoded, script, sigs, wallet.message)
        if wallet.scheme == Scheme.BIP322:
            return "multisig, BIP-322: " + verify_multisig_bip322(decoded, script, sigs, wallet.message)
        raise ProofError(f"scheme {wallet.scheme.value} does not apply to Bitcoin")
    if script is not None:
        raise ProofError(f"`script` is only for multisig addresses; {decoded.address} is {decoded.kind}")
    if len(sigs) != 1:
        raise ProofError(f"a single-key address takes one signature, got {len(sigs)}")
    if wallet.scheme == Scheme.BIP137 or (wallet.scheme == Scheme.BIP322 and decoded.kind == "p2pkh"):
        # BIP-322 lets a P2PKH address prove with the legacy (BIP-137) format.
        verify_bip137_single(decoded, sigs[0], wallet.message)
        return f"BIP-137 signature by the key of this {decoded.kind} address"
    if wallet.scheme == Scheme.BIP322 and decoded.kind == "p2wpkh":
        verify_bip322_p2wpkh(decoded, sigs[0], wallet.message)
        return "BIP-322 simple signature by the key of this p2wpkh address"
    if wallet.scheme == Scheme.BIP322:
        raise ProofError("BIP-322 simple for a wrapped (P2SH-P2WPKH) address is not supported; use bip137")
    raise ProofError(f"scheme {wallet.scheme.value} does not apply to Bitcoin")


def make_adapter(name: str, config: dict[str, Any]) -> "BitcoinAdapter":
    extra = sorted(set(config) - CONFIG_KEYS)
    if extra:
        raise InputError(f"unknown key (known: {', '.join(sorted(CONFIG_KEYS))})", field=f"chains.{name}.{extra[0]}")
    try:
        network(config)
    except InputError as exc:
        raise exc.at(field=f"chains.{name}") from None
    settings = _Settings(
        timeout=_number(config, name, "timeout", 30.0, float), retries=_number(config, name, "retries", 3, int, 0),
        max_concurrency=_number(config, name, "concurrency", 8, int),
        batch_size=_number(config, name, "batch_size", 20, int),
        requests_per_second=_number(config, name, "rate_limit", None, float))
    providers = [NodeProvider(url, settings) for url in _urls(config, name, "node_rpc")]
    providers += [EsploraProvider(url, settings) for url in _urls(config, name, "esplora")]
    if not providers:
        raise InputError("configure at least one provider in node_rpc or esplora", field=f"chains.{name}")
    return BitcoinAdapter(name, providers, network(config))


def _number(config: dict[str, Any], name: str, key: str, default, kind, minimum=None):
    value = config.get(key, default)
    if value is None:
        return None
    wrong_type = isinstance(value, bool) or not isinstance(value, int if kind is int else (int, float))
    if wrong_type or (value <= 0 if minimum is None else value < minimum):
        bound = "> 0" if minimum is None else f">= {minimum}"
        raise InputError(f"must be {'an integer' if kind is int else 'a number'} {bound}", field=f"chains.{name}.{key}")
    return kind(value)


def _urls(config: dict[str, Any], name: str, key: str) -> list[str]:
    value = config.get(key, [])
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list):
        raise InputError("expected a list of URLs", field=f"chains.{name}.{key}")
    for i, url in enumerate(value):
        try:
            parsed = URL(url) if isinstance(url, str) else None
            ok = parsed is not None and parsed.scheme in ("http", "https") and bool(parsed.host) and parsed.port
        except ValueError:      # yarl refuses e.g. a port that is not a number
            ok = False
        if not ok:
            raise InputError("expected an http(s) URL", field=f"chains.{name}.{key}[{i}]")
    return value


# --- history replay (pure) ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TxRecord:
    txid: str
    height: int                                   # -1 while unconfirmed
    outputs: tuple[tuple[int, str, int], ...]     # (vout, script hex, value in satoshis)
    spends: tuple[tuple[str, int], ...]           # outpoints this transaction spends


def balance_at(history: Iterable[TxRecord], script_hex: str, height: int) -> int:
    """Satoshis the exact script holds at `height`: funded minus spent, both in blocks <= height."""
    txs = {tx.txid: tx for tx in history if 0 <= tx.height <= height}
    funded = {(tx.txid, vout): value for tx in txs.values() for vout, script, value in tx.outputs
              if script == script_hex}
    spent = {outpoint for tx in txs.values() for outpoint in tx.spends if outpoint in funded}
    return sum(value for outpoint, value in funded.items() if outpoint not in spent)


# --- providers -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Settings:
    timeout: float
    retries: int
    max_concurrency: int
    batch_size: int
    requests_per_second: float | None


class _Transient(Exception):
    """Worth another try: a timeout, a refused connection, 429 or 5xx."""


class _Provider:
    kind = ""

    def __init__(self, url: str, settings: _Settings) -> None:
        parsed = URL(url)
        self.base = parsed.with_user(None).with_password(None)
        credentials = f"{parsed.user or ''}:{parsed.password}".encode() if parsed.password else None
        self.headers = {"Authorization": "Basic " + base64.b64encode(credentials).decode()} if credentials else {}
        self.label = f"{self.kind} {self.base}"          # names the provider in errors, never its credentials
        self.settings = settings
        self.session: aiohttp.ClientSession | None = None
        self.semaphore = asyncio.Semaphore(settings.max_concurrency)
        self.limiter = AsyncLimiter(settings.requests_per_second, 1) if settings.requests_per_second else None

    async def request(self, method: str, path: str, *, body: Any = None, address: str | None = None,
                      text: bool = False) -> Any:
        """One HTTP call with retries on transient faults; a hard failure is a ProviderError."""
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.timeout))
        url = str(self.base).rstrip("/") + path
        try:
            async for attempt in AsyncRetrying(stop=stop_after_attempt(self.settings.retries + 1),
                                               wait=wait_exponential(multiplier=0.2, max=5),
                                               retry=retry_if_exception_type(_Transient), reraise=True):
                with attempt:
                    return await self._once(method, url, body, text, address)
        except _Transient as exc:
            raise ProviderError(self.label, f"{exc} (after {self.settings.retries + 1} attempts)",
                                address=address) from None

    async def _once(self, method: str, url: str, body: Any, text: bool, address: str | None) -> Any:
        async with self.semaphore:
            if self.limiter:
                await self.limiter.acquire()
            try:
                async with self.session.request(method, url, json=body, headers=self.headers) as resp:
                    if resp.status == 429 or resp.status >= 500:
                        raise _Transient(f"HTTP {resp.status} from {url}")
                    if resp.status != 200:
                        raise ProviderError(self.label, f"HTTP {resp.status} from {url}: "
                                                        f"{(await resp.text())[:200]}", address=address)
                    return (await resp.text()).strip() if text else await resp.json(content_type=None)
            except asyncio.TimeoutError:
                raise _Transient(f"no answer within {self.settings.timeout:g}s from {url}") from None
            except aiohttp.ClientConnectionError as exc:
                raise _Transient(f"cannot reach {url}: {exc}") from None
            except aiohttp.ClientPayloadError:        # the body was cut short: like a dropped connection
                raise _Transient(f"answer from {url} was cut short") from None
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

    async def aclose(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None


class NodeProvider(_Provider):
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

    async def histories(self, addresses: list[str]) -> dict[str, list[TxRecord]]:
        """Batches of addresses per request; the union of their histories serves each of them."""
        size = self.settings.batch_size
        batches = [addresses[i:i + size] for i in range(0, len(addresses), size)]
        answers = await asyncio.gather(*(self._batch(batch) for batch in batches))
        return {address: records for batch, records in zip(batches, answers) for address in batch}

    async def _batch(self, batch: list[str]) -> list[TxRecord]:
        named = batch[0] + (f" (and {len(batch) - 1} more in the batch)" if len(batch) > 1 else "")
        txs = await self.request("POST", "/tx/address", body={"addresses": batch}, address=named)
        if not isinstance(txs, list):
            raise self.bad("/tx/address did not return a list", named)
        return [self._record(tx, named) for tx in txs]

    def _record(self, tx: Any, address: str) -> TxRecord:
        try:
            outputs = tuple((i, out["script"].lower(), self.sats(out["value"], address))
                            for i, out in enumerate(tx["outputs"]))
            spends = tuple((inp["prevout"]["hash"].lower(), inp["prevout"]["index"]) for inp in tx["inputs"])
            height = tx["height"]
            if not isinstance(height, int):
                raise TypeError
            return TxRecord(tx["hash"].lower(), height, outputs, spends)
        except (KeyError, TypeError, IndexError, AttributeError):
            raise self.bad("a transaction lacks hash, height, inputs or outputs", address) from None


class EsploraProvider(_Provider):
    """Esplora REST: /blocks/tip/height, /block-height/:h, /address/:a/txs[/chain/:last_seen]."""

    kind = "esplora"

    async def tip_height(self) -> int:
        text = await self.request("GET", "/blocks/tip/height", text=True)
        if not text.isdigit():
            raise self.bad(f"tip height {text[:40]!r}")
        return int(text)

    async def block_hash(self, height: int) -> str:
        return self.block_hash_of(await self.request("GET", f"/block-height/{height}", text=True), height)

    async def histories(self, addresses: list[str]) -> dict[str, list[TxRecord]]:
        answers = await asyncio.gather(*(self._history(a) for a in addresses))
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
            outputs = tuple((i, out["scriptpubkey"].lower(), self.sats(out["value"], address))
                            for i, out in enumerate(tx["vout"]))
            spends = tuple((inp["txid"].lower(), inp["vout"]) for inp in tx["vin"] if not inp.get("is_coinbase"))
            if not isinstance(height, int):
                raise TypeError
            return TxRecord(tx["txid"].lower(), height, outputs, spends)
        except (KeyError, TypeError, IndexError, AttributeError):
            raise self.bad("a transaction lacks txid, status, vin or vout", address) from None


# --- the adapter -------------------------------------------------------------------------------------------------
class BitcoinAdapter(ChainAdapter):
    """Reads every provider; any disagreement between them is a ProviderError naming both."""

    def __init__(self, name: str, providers: list[_Provider], net: Network) -> None:
        self.name = name
        self.providers = providers
        self.labels = [p.label for p in providers]
        self.network = net

    async def tip_height(self) -> int:
        """The lowest tip: confirmations are counted on the provider that has seen least."""
        return min(await asyncio.gather(*(p.tip_height() for p in self.providers)))

    async def block_hash(self, height: int) -> str:
        hashes = await asyncio.gather(*(p.block_hash(height) for p in self.providers))
        return agreed(self.labels, hashes,
                      lambda a, b: f"block at height {height} is {a} vs {b}: providers on different forks")

    async def balances(self, queries: Sequence[BalanceQuery], height: int) -> list[BalanceReading]:
        before = await self.block_hash(height)
        addresses = list(dict.fromkeys(q.address for q in queries))
        histories = await asyncio.gather(*(p.histories(addresses) for p in self.providers))
        if await self.block_hash(height) != before:
            raise ProviderError(self.name, f"the block at height {height} changed while reading: a reorganisation")
        readings = []
        for query in queries:
            script = query.script or self._script(query.address)
            amount = agreed(self.labels, [balance_at(h[query.address], script.lower(), height) for h in histories],
                            lambda a, b: f"balance at height {height} is {a} vs {b} satoshis", address=query.address)
            readings.append(BalanceReading(query, amount, height, ", ".join(self.labels)))
        return readings

    def _script(self, address: str) -> str:
        try:
            return decode_address(address, self.network).script.hex()
        except ValueError as exc:
            raise InputError(f"{address[:90]!r}: {exc}", field="address") from None

    async def aclose(self) -> None:
        await asyncio.gather(*(p.aclose() for p in self.providers))
