"""Chain adapters: one module per chain family behind `chains.base.ChainAdapter`.

`por/` reaches chains only through this package: adding a chain family is
adding one module here (a `chains.base.ChainFamily`) and one line in `FAMILIES`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, cast

FAMILIES = {
    "evm": "chains.evm",
    "bitcoin": "chains.bitcoin",
}

if TYPE_CHECKING:  # mypy checks that every family module satisfies the contract
    from chains import bitcoin, evm
    from chains.base import ChainFamily

    _FAMILIES: tuple[ChainFamily, ...] = (evm, bitcoin)


def family_module(family: str) -> ChainFamily:
    """The module implementing a chain family (imported on first use: start-up stays fast)."""
    try:
        return cast("ChainFamily", importlib.import_module(FAMILIES[family]))
    except KeyError:
        raise ValueError(f"unknown chain family {family!r}; known: {', '.join(sorted(FAMILIES))}") from None


def __getattr__(name: str) -> Any:
    """`chains.ChainFamily` on first use: chains.base loads asyncio, which a customer's
    `verify-inclusion --signer` (chains.eip191) must not pay for."""
    if name == "ChainFamily":
        from chains.base import ChainFamily

        return ChainFamily
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FAMILIES",
    "ChainFamily",
    "family_module",
    "base",
    "bitcoin",
    "bitcoin_address",
    "bitcoin_proofs",
    "bitcoin_rpc",
    "evm",
    "evm_rpc",
    "okx_signatures",
    "records",
]
