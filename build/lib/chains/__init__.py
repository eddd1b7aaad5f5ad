"""Chain adapters: one module per chain family behind `chains.base.ChainAdapter`.

`por/` reaches chains only through this package: adding a chain family is
adding one module here and one line in `FAMILIES`.
"""

from __future__ import annotations

import importlib

FAMILIES = {
    "evm": "chains.evm",
    "bitcoin": "chains.bitcoin",
}


def family_module(family: str):
    """The module implementing a chain family (imported on first use: start-up stays fast)."""
    try:
        return importlib.import_module(FAMILIES[family])
    except KeyError:
        raise ValueError(f"unknown chain family {family!r}; known: {', '.join(sorted(FAMILIES))}") from None
