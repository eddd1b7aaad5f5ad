"""`por snapshot`: the snapshot file for a time, built from the providers in chains.toml.

Per chain, the last block at or before the time (`chains.timeline`), its hash agreed by
every provider and buried by the chain's `min_confirmations`. The file is the one
`por reserves` and `por audit` read (docs/formats/snapshot.schema.json).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from chains import family_module
from chains.base import ChainConfig, min_confirmations
from chains.timeline import BlockAtTime, last_block_at_or_before, time_key
from por.errors import InputError
from por.text import utc_time

MakeAdapter = Callable[[str, ChainConfig], Any]


def parse_time(text: str) -> tuple[str, int]:
    """`--at` as written back (YYYY-MM-DDTHH:MM:SSZ) and as seconds since 1970."""
    canonical = utc_time(text, "--at")
    return canonical, int(datetime.strptime(canonical, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def _chain_block(name: str, config: ChainConfig, when: int, make_adapter: MakeAdapter | None) -> BlockAtTime:
    make = make_adapter or family_module(config["family"]).make_adapter
    async with make(name, config) as adapter:
        try:
            found = await last_block_at_or_before(adapter, config["family"], when)
        except InputError as exc:
            raise InputError(exc.reason, field=f"chains.{name}") from None
    needed = min_confirmations(name, config)
    if found.tip - found.height + 1 < needed:
        raise InputError(
            f"the block at or before that time on {name} (height {found.height}) has "
            f"{found.tip - found.height + 1} confirmation(s), {needed} required: wait and run "
            "again",
            field=f"chains.{name}",
        )
    return found


async def snapshot_at(
    at: str,
    chains: Mapping[str, ChainConfig],
    *,
    snapshot_id: str | None = None,
    only: list[str] | None = None,
    make_adapter: MakeAdapter | None = None,
) -> dict[str, Any]:
    """The snapshot document for time `at` over the configured chains (or `only` those)."""
    canonical, when = parse_time(at)
    names = only or sorted(chains)
    for name in names:
        if name not in chains:
            raise InputError(f"chain {name!r} is not configured in chains.toml", field="--chain")
        time_key(chains[name]["family"])
    found = await asyncio.gather(*(_chain_block(n, chains[n], when, make_adapter) for n in names))
    return {
        "format": "por-snapshot",
        "version": 1,
        "snapshot_id": snapshot_id or canonical,
        "time": canonical,
        "chains": {
            name: {"height": block.height, "block_hash": block.block_hash, "time": _iso(block.time)}
            for name, block in zip(names, found)
        },
    }
