"""The small interfaces every chain family implements, and the test double beside them.

Like an HTTP transport, an adapter answers a few questions and hides how: the
auditor's code never knows whether it talks to a node, an indexer or several
providers at once. `ChainFamily` is what a family module (`chains/evm.py`,
`chains/bitcoin.py`) provides; `ChainAdapter` is what its `make_adapter` returns;
`AgreeingAdapter` is the one way several providers are read (every one, and they
must agree); `MockAdapter(handler)` answers from a function, like httpx's
`MockTransport`, for the faults a node cannot be made to show.
"""

from __future__ import annotations

import abc
import asyncio
import inspect
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from chains.records import DeclaredWallet, OwnershipResult
from por.errors import InputError, ProviderError

T = TypeVar("T")
ChainConfig = Mapping[str, Any]  # one [chains.NAME] table of chains.toml
DEFAULT_MIN_CONFIRMATIONS = 6
COMMON_KEYS = frozenset({"family", "native_asset", "min_confirmations"})


@dataclass(frozen=True)
class BalanceQuery:
    address: str
    asset: str  # symbol, e.g. "ETH", "USDT", "BTC"
    token: str | None = None  # contract address for a token; None for the native coin
    script: str | None = None  # hex output script where the chain matches by script (Bitcoin)


@dataclass(frozen=True)
class BalanceReading:
    query: BalanceQuery
    amount: int  # base units, exact
    height: int
    provider: str  # which provider(s) answered, for the report


class ChainAdapter(abc.ABC):
    """Reads a chain at a fixed height. Every failure is a `por.errors.ProviderError`."""

    name: str  # the chain's name in chains.toml

    @abc.abstractmethod
    async def tip_height(self) -> int:
        """The provider's current best height (to refuse unconfirmed snapshots)."""

    @abc.abstractmethod
    async def block_hash(self, height: int) -> str:
        """Block hash at `height`, lower-case hex; every provider must agree."""

    @abc.abstractmethod
    async def balances(self, queries: Sequence[BalanceQuery], height: int) -> list[BalanceReading]:
        """Balances at `height`, one reading per query, in order. Never a silent zero."""

    async def ownership_at(self, wallets: Sequence[DeclaredWallet], height: int) -> list[OwnershipResult]:
        """Ownership proofs only chain state can decide (`OwnershipResult.at_snapshot`), asked at `height`.

        A family whose proofs are all offline keeps this: such a proof is never proven."""
        return [
            OwnershipResult(
                False, f"scheme {w.scheme.value} needs chain state, which chain {self.name} cannot be asked for"
            )
            for w in wallets
        ]

    async def aclose(self) -> None:  # noqa: B027 - optional: an adapter without connections keeps this
        """Releases connections."""

    async def __aenter__(self) -> ChainAdapter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


@runtime_checkable
class ChainFamily(Protocol):
    """What a family module provides; `chains.family_module(name)` returns one.

    Every function takes the chain's chains.toml table; `check_config` checks all of it
    up front (before any long work) and returns deprecation notes for the user."""

    def check_config(self, name: str, config: ChainConfig) -> list[str]: ...

    def validate_address(self, address: str, config: ChainConfig) -> str: ...

    def balance_query(self, wallet: DeclaredWallet, config: ChainConfig) -> BalanceQuery: ...

    def verify_ownership(
        self, wallet: DeclaredWallet, expected_message: str, config: ChainConfig
    ) -> OwnershipResult: ...

    def make_adapter(self, name: str, config: ChainConfig) -> ChainAdapter: ...


def min_confirmations(name: str, config: ChainConfig) -> int:
    """How deep the snapshot block must be buried (default 6); a family-independent key."""
    value = config.get("min_confirmations", DEFAULT_MIN_CONFIRMATIONS)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InputError("must be a non-negative integer", field=f"chains.{name}.min_confirmations")
    return value


def agreed(
    labels: Sequence[str], answers: Sequence[T], disagreement: Callable[[T, T], str], *, address: str | None = None
) -> T:
    """The one answer every provider gave; the first that differs is a ProviderError naming both.

    Several providers are read so that one lying or lagging provider cannot decide a balance."""
    for label, answer in zip(labels[1:], answers[1:]):
        if answer != answers[0]:
            raise ProviderError(f"{labels[0]} and {label}", disagreement(answers[0], answer), address=address)
    return answers[0]


async def gather_all(coros: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
    """Runs concurrently; the first failure cancels the rest and is raised as itself (not as a group)."""
    tasks: list[asyncio.Task[T]] = []
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coros]
    except BaseExceptionGroup as failed:
        first: BaseException = failed
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return [t.result() for t in tasks]


# --- several providers, one answer ----------------------------------------------------------------------------
class Provider(Protocol):
    """One endpoint of a chain, as `AgreeingAdapter` reads it."""

    label: str  # names it in errors and reports, never its credentials

    async def tip_height(self) -> int: ...

    async def block_hash(self, height: int) -> str: ...

    async def amounts(self, queries: Sequence[BalanceQuery], height: int) -> list[int]: ...

    async def aclose(self) -> None: ...


class AgreeingAdapter(ChainAdapter):
    """Reads every provider: the lowest tip counts, block hashes and amounts must agree (`agreed`)."""

    def __init__(self, name: str, providers: Sequence[Provider]) -> None:
        self.name = name
        self.providers = list(providers)
        self.labels = [p.label for p in self.providers]

    async def tip_height(self) -> int:
        """The lowest tip: confirmations are counted on the provider that has seen least."""
        return min(await gather_all([p.tip_height() for p in self.providers]))

    async def block_hash(self, height: int) -> str:
        hashes = await gather_all([p.block_hash(height) for p in self.providers])
        return agreed(
            self.labels, hashes, lambda a, b: f"block at height {height} is {a} vs {b}: providers on different forks"
        )

    async def balances(self, queries: Sequence[BalanceQuery], height: int) -> list[BalanceReading]:
        if not queries:
            return []
        per_provider = await gather_all([p.amounts(queries, height) for p in self.providers])
        for label, answers in zip(self.labels, per_provider):
            if len(answers) != len(queries):
                raise ProviderError(label, f"answered {len(answers)} of {len(queries)} balances")
        names = ", ".join(self.labels)
        return [
            BalanceReading(query, self._agreed_amount(query, height, [a[i] for a in per_provider]), height, names)
            for i, query in enumerate(queries)
        ]

    def _agreed_amount(self, query: BalanceQuery, height: int, amounts: list[int]) -> int:
        return agreed(
            self.labels,
            amounts,
            lambda a, b: f"disagree on the {query.asset} balance at height {height}: {a} vs {b} base units",
            address=query.address,
        )

    async def aclose(self) -> None:
        for provider in self.providers:  # each one, even after another failed to close
            await provider.aclose()


# --- test doubles ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    """One question put to a mock, as its handler sees it."""

    method: str  # "tip_height", "block_hash" or "balances"
    provider: str
    height: int | None = None
    queries: tuple[BalanceQuery, ...] = ()


Handler = Callable[[Call], Any]  # the answer, an awaitable of it, or raises (a ProviderError...)


async def _answer(handler: Handler, call: Call) -> Any:
    answer = handler(call)
    return await answer if inspect.isawaitable(answer) else answer


class MockProvider:
    """A `Provider` that is only a handler: for `AgreeingAdapter` rules (one provider disagreeing)."""

    def __init__(self, label: str, handler: Handler) -> None:
        self.label, self.handler = label, handler

    async def tip_height(self) -> int:
        return int(await _answer(self.handler, Call("tip_height", self.label)))

    async def block_hash(self, height: int) -> str:
        return str(await _answer(self.handler, Call("block_hash", self.label, height)))

    async def amounts(self, queries: Sequence[BalanceQuery], height: int) -> list[int]:
        return list(await _answer(self.handler, Call("balances", self.label, height, tuple(queries))))

    async def aclose(self) -> None:
        """Nothing to release."""


class MockAdapter(ChainAdapter):
    """A `ChainAdapter` that is only a handler, like httpx's `MockTransport(handler)`.

    `handler(call)` returns the answer: an int for tip_height, a hash for block_hash, and
    for balances either amounts (one per query, made into readings at the asked height) or
    `BalanceReading`s used as they are, so a test can answer for the wrong address, height
    or count. Raising is how a provider fails."""

    def __init__(self, handler: Handler, name: str = "mock") -> None:
        self.handler, self.name = handler, name
        self.calls: list[Call] = []
        self.closed = False

    async def _ask(self, call: Call) -> Any:
        self.calls.append(call)
        return await _answer(self.handler, call)

    async def tip_height(self) -> int:
        return int(await self._ask(Call("tip_height", self.name)))

    async def block_hash(self, height: int) -> str:
        return str(await self._ask(Call("block_hash", self.name, height)))

    async def balances(self, queries: Sequence[BalanceQuery], height: int) -> list[BalanceReading]:
        answers = list(await self._ask(Call("balances", self.name, height, tuple(queries))))
        if all(isinstance(a, BalanceReading) for a in answers):
            return answers
        return [BalanceReading(q, int(a), height, self.name) for q, a in zip(queries, answers)]

    async def aclose(self) -> None:
        self.closed = True


def adapter_factory(adapter: ChainAdapter) -> Callable[[str, ChainConfig], ChainAdapter]:
    """`read_reserves(..., make_adapter=adapter_factory(MockAdapter(h)))`: every chain reads `adapter`."""

    def make(name: str, config: ChainConfig) -> ChainAdapter:
        return adapter

    return make
