"""The block a snapshot time names, per chain: the last block whose time is at or before it.

Which time: on EVM chains the block's timestamp (strictly increasing there); on Bitcoin
the block's median-time-past (MTP), since block timestamps may go backwards by up to
about two hours while MTP never does, so "the last block with MTP <= T" is one block.
Both keys are monotonic, so the block is found by binary search over heights. Every
provider is asked for every probed time and must give the same one (`chains.base.agreed`):
a provider on another fork, or one lying about a time, stops the search.

A time the chain has not yet passed (the tip's time is still at or before it) has no
settled block: a later block could still carry an earlier-or-equal time.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

from chains.base import AgreeingAdapter, ChainAdapter, agreed, gather_all
from por.errors import InputError, ProviderError

TimeOf = Callable[[Any, int], Coroutine[Any, Any, int]]  # (provider, height) -> seconds since 1970


@dataclass(frozen=True)
class BlockAtTime:
    height: int
    block_hash: str  # lower-case hex, as the providers report it (Bitcoin: display byte order)
    time: int  # the key searched by: EVM timestamp, Bitcoin median-time-past
    tip: int  # the lowest provider tip when it was found


async def evm_block_time(provider: Any, height: int) -> int:
    return int(await provider.block_time(height))


async def bitcoin_median_time(provider: Any, height: int) -> int:
    """MTP of the block at `height`: bcoin's `getblockheader` or Esplora's `/block/:hash` (`mediantime`)."""
    block_hash = await provider.block_hash(height)
    if hasattr(provider, "rpc"):
        header = await provider.rpc("getblockheader", block_hash)
    else:
        header = await provider.request("GET", f"/block/{block_hash}")
    value = header.get("mediantime") if isinstance(header, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProviderError(provider.label, f"block {height} has no median time in its header ({str(value)[:40]})")
    return value


TIME_OF: dict[str, tuple[str, TimeOf]] = {
    "evm": ("timestamp", evm_block_time),
    "bitcoin": ("median-time-past", bitcoin_median_time),
}


def time_key(family: str) -> tuple[str, TimeOf]:
    """(what the time of a block means on this family, how to read it from one provider)."""
    if family not in TIME_OF:
        raise InputError(f"finding a block by time is not supported for chain family {family!r}", field="family")
    return TIME_OF[family]


async def agreed_time(providers: Sequence[Any], time_of: TimeOf, height: int) -> int:
    times: list[int] = await gather_all([time_of(p, height) for p in providers])
    return agreed(
        [p.label for p in providers],
        times,
        lambda a, b: f"the time of block {height} is {a} vs {b}: providers on different forks",
    )


async def last_block_at_or_before(adapter: ChainAdapter, family: str, when: int) -> BlockAtTime:
    """The highest block whose time (per `time_key(family)`) is <= `when`, agreed by every provider."""
    what, time_of = time_key(family)
    providers = adapter.providers if isinstance(adapter, AgreeingAdapter) else [adapter]
    tip = await adapter.tip_height()
    if await agreed_time(providers, time_of, tip) <= when:
        raise InputError(
            f"chain {adapter.name} has not passed that time yet: its tip (height {tip}) has "
            f"{what} at or before it, so a later block may still belong to the snapshot; "
            "wait for the chain to pass it",
            field="--at",
        )
    if await agreed_time(providers, time_of, 0) > when:
        raise InputError(f"that time is before chain {adapter.name}'s first block", field="--at")
    low, high = 0, tip  # time(low) <= when < time(high)
    while high - low > 1:
        middle = (low + high) // 2
        if await agreed_time(providers, time_of, middle) <= when:
            low = middle
        else:
            high = middle
    return BlockAtTime(low, (await adapter.block_hash(low)).lower(), await agreed_time(providers, time_of, low), tip)
