"""Chain adapters: one module per chain family behind `chains.base.ChainAdapter`.

`por/` reaches chains only through this package: adding a chain family is
adding one module here (a `chains.base.ChainFamily`) and one line in `FAMILIES`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, cast

from chains.base import ChainFamily

FAMILIES = {
    "evm": "chains.evm",
    "bitcoin": "chains.bitcoin",
}

if TYPE_CHECKING:  # mypy checks that every family module satisfies the contract
    from chains import bitcoin, evm

    _FAMILIES: tuple[ChainFamily, ...] = (evm, bitcoin)


def family_module(family: str) -> ChainFamily:
    """The module implementing a chain family (imported on first use: start-up stays fast)."""
    try:
        return cast(ChainFamily, importlib.import_module(FAMILIES[family]))
    except KeyError:
        raise ValueError(f"unknown chain family {family!r}; known: {', '.join(sorted(FAMILIES))}") from None


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
