"""Anchor backends: one per chain family that can record a commitment's digest (docs/formats/anchor.md).

EVM records it in the PorAnchorRegistry contract (`chains.evm_anchor`), Bitcoin in an OP_RETURN
spending from the exchange's anchor address (`chains.bitcoin_anchor`). `por.publication.anchor`
reaches them only through `anchor_backend`, so a family is added here, not in the CLI.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, cast

from chains.base import ChainConfig

ANCHOR_BACKENDS = {
    "evm": "chains.evm_anchor",
    "bitcoin": "chains.bitcoin_anchor",
}


class AnchorRecord(Protocol):
    """One anchor read from (or written to) a chain."""

    @property
    def chain(self) -> str: ...
    @property
    def snapshot_id(self) -> str: ...
    @property
    def digest(self) -> str: ...
    @property
    def transaction(self) -> str: ...
    @property
    def block(self) -> int: ...

    def to_json(self) -> dict[str, Any]: ...


class AnchorBackend(Protocol):
    KEY_OPTION: str  # the command-line option whose key sends an anchor

    def missing(self, name: str, config: ChainConfig) -> str | None: ...

    def owner(self, name: str, config: ChainConfig, signer: str | None, pinned: bool) -> tuple[str | None, str]: ...

    def check_key(self, name: str, config: ChainConfig, key: bytes, signer: str | None) -> None: ...

    async def send_anchor(
        self, name: str, config: ChainConfig, private_key: bytes, snapshot_id: str, digest: bytes
    ) -> AnchorRecord: ...

    async def find_anchors(
        self, name: str, config: ChainConfig, exchange: str, snapshot_id: str
    ) -> Sequence[AnchorRecord]: ...


if TYPE_CHECKING:  # mypy checks that every backend module satisfies the contract
    from chains import bitcoin_anchor, evm_anchor

    _BACKENDS: tuple[AnchorBackend, ...] = (evm_anchor, bitcoin_anchor)


def anchor_backend(family: str) -> AnchorBackend | None:
    """The family's anchor backend (imported on first use), or None: that family cannot anchor."""
    module = ANCHOR_BACKENDS.get(family)
    return None if module is None else cast(AnchorBackend, importlib.import_module(module))
