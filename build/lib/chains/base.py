"""The one small interface every chain family implements.

Like an HTTP transport, an adapter answers a few questions and hides how:
the auditor's code never knows whether it talks to a node, an indexer or
several providers at once.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Callable, Sequence, TypeVar

from por.errors import ProviderError

T = TypeVar("T")


@dataclass(frozen=True)
class BalanceQuery:
    address: str
    asset: str                 # symbol, e.g. "ETH", "USDT", "BTC"
    token: str | None = None   # contract address for a token; None for the native coin
    script: str | None = None  # hex output script where the chain matches by script (Bitcoin)


@dataclass(frozen=True)
class BalanceReading:
    query: BalanceQuery
    amount: int                # base units, exact
    height: int
    provider: str              # which provider(s) answered, for the report


class ChainAdapter(abc.ABC):
    """Reads a chain at a fixed height. Every failure is a `por.errors.ProviderError`."""

    name: str                  # the chain's name in chains.toml

    @abc.abstractmethod
    async def tip_height(self) -> int:
        """The provider's current best height (to refuse unconfirmed snapshots)."""

    @abc.abstractmethod
    async def block_hash(self, height: int) -> str:
        """Block hash at `height`, lower-case hex; every provider must agree."""

    @abc.abstractmethod
    async def balances(self, queries: Sequence[BalanceQuery], height: int) -> list[BalanceReading]:
        """Balances at `height`, one reading per query, in order. Never a silent zero."""

    async def aclose(self) -> None:
        """Releases connections."""

    async def __aenter__(self) -> "ChainAdapter":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()


def agreed(labels: Sequence[str], answers: Sequence[T], disagreement: Callable[[T, T], str], *,
           address: str | None = None) -> T:
    """The one answer every provider gave; the first that differs is a ProviderError naming both.

    Several providers are read so that one lying or lagging provider cannot decide a balance."""
    for label, answer in zip(labels[1:], answers[1:]):
        if answer != answers[0]:
            raise ProviderError(f"{labels[0]} and {label}", disagreement(answers[0], answer), address=address)
    return answers[0]
