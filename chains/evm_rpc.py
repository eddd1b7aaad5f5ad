"""The EVM adapter's wire side: batched balance reads at one height from one or more JSON-RPC providers.

Each provider is an `AsyncWeb3` over HTTP behind one `chains._http.Transport`
(concurrency, rate limit, retries on timeouts, dropped connections, HTTP 429/5xx
and JSON-RPC "limit exceeded"). web3's own retry layer is switched off so one
policy governs. Anything else, or attempts used up, is a `ProviderError` naming
the provider and the address: a balance is never guessed, and an empty
`balanceOf` answer (no contract at that height) is an error, not a zero.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from eth_account.messages import defunct_hash_message
from eth_typing import ChecksumAddress
from eth_utils import function_signature_to_4byte_selector
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import Web3RPCError
from web3.types import RPCEndpoint

from chains._http import Transient, Transport, TransportSettings
from chains.base import AgreeingAdapter, BalanceQuery, agreed, gather_all
from chains.records import DeclaredWallet, OwnershipResult
from por.amounts import MAX_UNITS
from por.errors import ProviderError

BALANCE_OF = function_signature_to_4byte_selector("balanceOf(address)")
GET_ETH_BALANCE = function_signature_to_4byte_selector("getEthBalance(address)")
AGGREGATE3 = function_signature_to_4byte_selector("aggregate3((address,bool,bytes)[])")
IS_VALID_SIGNATURE = function_signature_to_4byte_selector("isValidSignature(bytes32,bytes)")
EIP1271_MAGIC = bytes.fromhex("1626ba7e")
CONTROL_MESSAGE = "por control: a message nobody signed"  # a contract that accepts it accepts anything
_LIMIT_CODES = {-32005, 429}  # JSON-RPC "limit exceeded" (Infura, geth) and 429 in the body
T = TypeVar("T")


@dataclass(frozen=True)
class EvmSettings:
    name: str
    chain_id: int
    rpc: tuple[str, ...]
    multicall3: str | None = None
    batch_size: int = 100  # JSON-RPC requests per HTTP batch
    multicall_size: int = 500  # calls per aggregate3
    transport: TransportSettings = field(default_factory=TransportSettings)


def display_url(url: str) -> str:
    """The URL as named in reports and errors: a password in it is never printed."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def eip191_digest(message: str) -> bytes:
    """keccak256 of the EIP-191 personal_sign encoding: what an EOA signs, and what a contract is asked about."""
    return bytes(defunct_hash_message(text=message))


def encode_is_valid_signature(digest: bytes, signature: bytes) -> bytes:
    """Calldata for isValidSignature(bytes32,bytes)."""
    return IS_VALID_SIGNATURE + digest + _uint(64) + _uint(len(signature)) + signature + bytes(-len(signature) % 32)


def _revert_reason(error: dict[str, Any]) -> str:
    """A revert's Error(string) reason if the node passed its data on, else its message."""
    data = error.get("data")
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x08c379a0") and len(data) >= 138:
        try:
            raw = bytes.fromhex(data[10:])
            length = int.from_bytes(raw[32:64], "big")
            return raw[64 : 64 + min(length, 200)].decode("utf-8", "replace")
        except ValueError:
            pass
    return str(error.get("message", ""))[:200]


def _word(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def _amount(raw: bytes, what: str) -> int:
    """A 32-byte ABI uint256 word; anything else means no such contract at that height."""
    if len(raw) != 32:
        raise ValueError(f"{what} returned {len(raw)} bytes, not a uint256 (no ERC-20 contract there at that height?)")
    return _bounded(int.from_bytes(raw, "big"), what)


def _quantity(text: str, what: str) -> int:
    """A JSON-RPC quantity ("0x" and 1 to 64 hex digits) as an int."""
    if not re.fullmatch(r"0x[0-9a-fA-F]{1,64}", text):
        raise ValueError(f"{what} returned {text[:80]!r}, not a quantity")
    return _bounded(int(text, 16), what)


def _hex_bytes(text: str, what: str) -> bytes:
    if not re.fullmatch(r"0x(?:[0-9a-fA-F]{2})*", text):
        raise ValueError(f"{what} returned {text[:80]!r}, not hex data")
    return bytes.fromhex(text[2:])


def _bounded(value: int, what: str) -> int:
    if value > MAX_UNITS:
        raise ValueError(f"{what} returned {value}, above the 2^128-1 base units por accepts")
    return value


def _uint(value: int) -> bytes:
    return value.to_bytes(32, "big")


def encode_aggregate3(calls: Sequence[tuple[str, bytes]]) -> bytes:
    """Calldata for aggregate3((address,bool,bytes)[]) with allowFailure=true on every call.

    Written out by hand: the layout is fixed and eth_abi's generic encoder cost a third of
    a 4,000-read batch. tests/test_chains_evm.py checks it byte for byte against eth_abi.
    """
    heads, tails, offset = [], [], 32 * len(calls)
    for target, data in calls:
        item = _word(target) + _uint(1) + _uint(96) + _uint(len(data)) + data + bytes(-len(data) % 32)
        heads.append(_uint(offset))
        tails.append(item)
        offset += len(item)
    return AGGREGATE3 + _uint(32) + _uint(len(calls)) + b"".join(heads) + b"".join(tails)


def decode_results(raw: bytes) -> list[tuple[bool, bytes]]:
    """aggregate3's (bool,bytes)[] answer; every offset is bounds-checked (the provider is untrusted)."""

    def word(pos: int) -> int:
        if pos < 0 or pos + 32 > len(raw):
            raise ValueError("truncated")
        return int.from_bytes(raw[pos : pos + 32], "big")

    start = word(0) + 32
    count = word(start - 32)
    if count > len(raw) // 32:
        raise ValueError("count beyond the data")
    out = []
    for i in range(count):
        item = start + word(start + 32 * i)
        flag = word(item)
        if flag > 1:
            raise ValueError("not a bool")
        data = item + word(item + 32)
        length = word(data)
        if data + 32 + length > len(raw):
            raise ValueError("truncated")
        out.append((flag == 1, raw[data + 32 : data + 32 + length]))
    return out


class Provider:
    """One JSON-RPC endpoint: its transport (limits, retries), chain-id check, batched reads."""

    def __init__(self, url: str, settings: EvmSettings) -> None:
        self.url, self.label, self.settings = url, display_url(url), settings
        timeout = aiohttp.ClientTimeout(total=settings.transport.timeout)
        http = AsyncHTTPProvider(url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)
        self.w3 = AsyncWeb3(http, middleware=[])
        self.transport = Transport(self.label, settings.transport)
        self._chain_checked: asyncio.Future[None] | None = None
        self._has_multicall: dict[int, bool] = {}

    async def _retrying(self, request: Callable[[], Awaitable[T]], address: str | None = None) -> T:
        async def once() -> T:
            try:
                return await request()
            except Web3RPCError as exc:
                error = (exc.rpc_response or {}).get("error")
                if isinstance(error, dict) and error.get("code") in _LIMIT_CODES:
                    raise Transient(f"rate limited: {exc.message}") from None
                raise ProviderError(self.label, f"JSON-RPC error: {exc.message}", address=address) from None

        return await self.transport.call(once, address=address)

    async def ready(self) -> None:
        """Checks once that the provider serves the configured chain id (shared by concurrent callers)."""
        if self._chain_checked is None:
            self._chain_checked = asyncio.ensure_future(self._check_chain())
        await asyncio.shield(self._chain_checked)

    async def _check_chain(self) -> None:
        chain_id = await self._retrying(lambda: self.w3.eth.chain_id)
        if chain_id != self.settings.chain_id:
            raise ProviderError(
                self.label,
                f"serves chain id {chain_id}, but chains.toml says {self.settings.chain_id} for {self.settings.name}",
            )

    async def tip_height(self) -> int:
        await self.ready()
        return int(await self._retrying(lambda: self.w3.eth.block_number))

    async def block_hash(self, height: int) -> str:
        return (await self._block(height))["hash"].lower()

    async def block_time(self, height: int) -> int:
        """The block's timestamp (seconds since 1970): `por snapshot` searches by it."""
        block = await self._block(height)
        try:
            return _quantity(block.get("timestamp", ""), "eth_getBlockByNumber timestamp")
        except (ValueError, TypeError) as exc:
            raise ProviderError(self.label, f"block {height}: {exc}") from None

    async def _block(self, height: int) -> dict[str, Any]:
        await self.ready()
        block = await self._retrying(
            lambda: self.w3.provider.make_request(RPCEndpoint("eth_getBlockByNumber"), [hex(height), False])
        )
        result = block.get("result") if isinstance(block, dict) else None
        if isinstance(block, dict) and block.get("error"):
            raise ProviderError(self.label, f"eth_getBlockByNumber({height}): {block['error'].get('message')}")
        if not isinstance(result, dict) or not isinstance(result.get("hash"), str):
            raise ProviderError(self.label, f"has no block at height {height} (its tip is below it)")
        return result

    # --- balances ----------------------------------------------------------------------------
    async def amounts(self, queries: Sequence[BalanceQuery], height: int) -> list[int]:
        """Every query's amount at `height`, in order."""
        await self.ready()
        if self.settings.multicall3 and await self._multicall_exists(height):
            size, chunk_reader = self.settings.multicall_size, self._multicall_chunk
        else:
            size, chunk_reader = self.settings.batch_size, self._batch_chunk
        chunks = [queries[i : i + size] for i in range(0, len(queries), size)]
        parts = await gather_all([chunk_reader(chunk, height) for chunk in chunks])
        return [amount for part in parts for amount in part]

    async def _multicall_exists(self, height: int) -> bool:
        """A snapshot older than the contract falls back to JSON-RPC batches rather than failing."""
        if height not in self._has_multicall:
            multicall = cast(ChecksumAddress, self.settings.multicall3)  # only asked when it is configured
            code = await self._retrying(lambda: self.w3.eth.get_code(multicall, height))
            self._has_multicall[height] = len(code) > 0
        return self._has_multicall[height]

    async def _batch_chunk(self, chunk: Sequence[BalanceQuery], height: int) -> list[int]:
        tag = hex(height)
        calls: list[tuple[RPCEndpoint, Any]] = [
            (RPCEndpoint("eth_getBalance"), [q.address, tag])
            if q.token is None
            else (RPCEndpoint("eth_call"), [{"to": q.token, "data": "0x" + (BALANCE_OF + _word(q.address)).hex()}, tag])
            for q in chunk
        ]

        async def once() -> Any:
            answers: Any = await self.w3.provider.make_batch_request(calls)
            if isinstance(answers, dict):  # the whole batch refused in one error object
                error = answers.get("error") or {}
                if error.get("code") in _LIMIT_CODES:
                    raise Transient(f"rate limited: {error.get('message')}")
                raise ProviderError(
                    self.label, f"batch of {len(calls)} refused: {error.get('message')}", address=chunk[0].address
                )
            if any(isinstance(a, dict) and (a.get("error") or {}).get("code") in _LIMIT_CODES for a in answers):
                raise Transient("rate limited inside a batch")
            return answers

        answers = await self._retrying(once, address=chunk[0].address)
        if not isinstance(answers, list) or len(answers) != len(chunk):
            raise ProviderError(
                self.label, f"answered {len(answers)} of a batch of {len(chunk)}", address=chunk[0].address
            )
        amounts = []
        for query, answer in zip(chunk, answers):
            what = "eth_getBalance" if query.token is None else f"balanceOf on token {query.token}"
            if not isinstance(answer, dict) or answer.get("error") or not isinstance(answer.get("result"), str):
                message = (answer.get("error") or {}).get("message") if isinstance(answer, dict) else answer
                raise ProviderError(self.label, f"{what} at height {height} failed: {message}", address=query.address)
            try:
                amounts.append(
                    _quantity(answer["result"], what)
                    if query.token is None
                    else _amount(_hex_bytes(answer["result"], what), what)
                )
            except ValueError as exc:
                raise ProviderError(self.label, f"{exc} at height {height}", address=query.address) from None
        return amounts

    async def _multicall_chunk(self, chunk: Sequence[BalanceQuery], height: int) -> list[int]:
        multicall = cast(ChecksumAddress, self.settings.multicall3)  # only called when it is configured
        calls = [
            (multicall, GET_ETH_BALANCE + _word(q.address))
            if q.token is None
            else (q.token, BALANCE_OF + _word(q.address))
            for q in chunk
        ]
        data = encode_aggregate3(calls)
        raw = await self._retrying(
            lambda: self.w3.eth.call({"to": multicall, "data": data}, height), address=chunk[0].address
        )
        try:
            results = decode_results(bytes(raw))
        except ValueError:
            raise ProviderError(
                self.label,
                f"multicall3 {multicall} returned no aggregate3 answer at height {height} ({len(raw)} bytes)",
                address=chunk[0].address,
            ) from None
        if len(results) != len(chunk):
            raise ProviderError(
                self.label, f"multicall3 answered {len(results)} of {len(chunk)} calls", address=chunk[0].address
            )
        amounts = []
        for query, (success, output) in zip(chunk, results):
            what = "getEthBalance" if query.token is None else f"balanceOf on token {query.token}"
            if not success:
                raise ProviderError(self.label, f"{what} reverted at height {height}", address=query.address)
            try:
                amounts.append(_amount(output, what))
            except ValueError as exc:
                raise ProviderError(self.label, f"{exc} at height {height}", address=query.address) from None
        return amounts

    # --- contract signatures (EIP-1271) -------------------------------------------------------
    async def contract_verdict(self, contract: str, digest: bytes, signature: bytes, height: int) -> str:
        """What the contract at `contract` answers at `height`: "valid", or why not (one line, comparable
        across providers). No code there, a revert, or any answer but the magic value is not valid."""
        await self.ready()
        tag = hex(height)
        code = await self._call_raw("eth_getCode", [contract, tag], contract)
        if not isinstance(code, str) or code in ("0x", ""):
            return f"no contract at {contract} at height {height}"
        data = "0x" + encode_is_valid_signature(digest, signature).hex()
        answer: Any = await self._retrying(
            lambda: self.w3.provider.make_request(RPCEndpoint("eth_call"), [{"to": contract, "data": data}, tag]),
            address=contract,
        )
        error: Any = answer.get("error") if isinstance(answer, dict) else None
        if isinstance(error, dict):
            message = str(error.get("message", ""))
            if error.get("code") == 3 or "revert" in message.lower():
                return f"isValidSignature reverted: {_revert_reason(error)}"
            raise ProviderError(
                self.label, f"eth_call isValidSignature at height {height}: {message[:200]}", address=contract
            )
        result = answer.get("result") if isinstance(answer, dict) else None
        try:
            raw = _hex_bytes(result if isinstance(result, str) else "", "isValidSignature")
        except ValueError as exc:
            raise ProviderError(self.label, str(exc), address=contract) from None
        if len(raw) == 32 and raw[:4] == EIP1271_MAGIC and not any(raw[4:]):
            return "valid"
        return f"isValidSignature returned 0x{raw[:32].hex()}, not the EIP-1271 magic value 0x1626ba7e"

    async def _call_raw(self, method: str, params: list[Any], address: str | None = None) -> Any:
        answer = await self._retrying(
            lambda: self.w3.provider.make_request(RPCEndpoint(method), params), address=address
        )
        if not isinstance(answer, dict) or answer.get("error"):
            error = answer.get("error") if isinstance(answer, dict) else answer
            message = error.get("message") if isinstance(error, dict) else error
            raise ProviderError(self.label, f"{method}: {str(message)[:200]}", address=address)
        return answer.get("result")

    async def request(self, method: str, params: list[Any], address: str | None = None) -> Any:
        """One JSON-RPC call under the transport policy, chain id checked first; its `result`."""
        await self.ready()
        return await self._call_raw(method, params, address)

    async def aclose(self) -> None:
        if self._chain_checked is not None and not self._chain_checked.done():
            self._chain_checked.cancel()
        await self.w3.provider.disconnect()


class EvmAdapter(AgreeingAdapter):
    """Reads every configured provider; any disagreement between them is an error naming both."""

    def __init__(self, settings: EvmSettings) -> None:
        self.evm_providers = [Provider(url, settings) for url in settings.rpc]
        super().__init__(settings.name, self.evm_providers)
        self.settings = settings

    async def ownership_at(self, wallets: Sequence[DeclaredWallet], height: int) -> list[OwnershipResult]:
        """EIP-1271 at the snapshot block, on every provider (they must agree): the contract accepts the
        signature over the ownership message, and refuses the same signature over a control message
        (a contract that accepts anything proves nothing about who controls it)."""
        return await gather_all([self._contract_ownership(w, height) for w in wallets])

    async def _contract_ownership(self, wallet: DeclaredWallet, height: int) -> OwnershipResult:
        address = wallet.address if wallet.address.startswith("0x") else "0x" + wallet.address
        signature = bytes.fromhex(wallet.signatures[0].removeprefix("0x"))
        verdict = await self._agreed_verdict(address, eip191_digest(wallet.message), signature, height)
        if verdict != "valid":
            return OwnershipResult(False, f"eip1271: {verdict}")
        control = await self._agreed_verdict(address, eip191_digest(CONTROL_MESSAGE), signature, height)
        if control == "valid":
            return OwnershipResult(
                False,
                f"eip1271: the contract at {address} also accepts this signature for "
                "a message nobody signed: it accepts anything, which proves nothing",
            )
        return OwnershipResult(
            True,
            f"eip1271: the contract at {address} accepts the signature over the expected message at height {height}",
        )

    async def _agreed_verdict(self, address: str, digest: bytes, signature: bytes, height: int) -> str:
        verdicts = await gather_all(
            [p.contract_verdict(address, digest, signature, height) for p in self.evm_providers]
        )
        return agreed(
            self.labels,
            verdicts,
            lambda a, b: f"disagree on isValidSignature at height {height}: {a!r} vs {b!r}",
            address=address,
        )
