"""The book of liabilities: every customer's balance per asset, exact, as the tree builder reads it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from por.amounts import MAX_UNITS, Asset
from por.liabilities.levels import ints_to_limbs
from por.liabilities.tree import TreeError


@dataclass
class _Lists:
    """The book as lists: the truth for small callers and tests, editable."""

    account_ids: list[str]
    columns: list[list[int]]


@dataclass
class _Arrays:
    """The book as columns: the truth for millions of accounts; the lists derived on demand."""

    ids: Any  # an Arrow string array
    hi: np.ndarray
    lo: np.ndarray
    account_ids: list[str] | None = None
    columns: list[list[int]] | None = None


class Liabilities:
    """Every customer's per-asset balance in base units, accounts in file order.

    Two views of the same book: lists (`account_ids`, `columns[a][i]`) for
    small callers and tests, and columns for millions of accounts (`ids`, an
    Arrow string array; `limbs()`, (hi, lo) uint64 arrays of shape
    (accounts, assets)). Whichever view it was made from is the truth; the
    other is derived on demand, so a book of lists can still be edited.
    """

    def __init__(self, assets: list[Asset], account_ids: list[str], columns: list[list[int]]) -> None:
        self.assets = list(assets)  # sorted by symbol: the order of sums in every node
        self._view: _Lists | _Arrays = _Lists(account_ids, columns)  # which view is the truth
        self.warnings: list[str] = []  # what the reader found worth a look (ids that mix scripts)

    @classmethod
    def from_arrays(cls, assets: list[Asset], ids: Any, hi: np.ndarray, lo: np.ndarray) -> Liabilities:
        book = cls.__new__(cls)
        book.assets = list(assets)
        book._view = _Arrays(ids, hi, lo)
        book.warnings = []
        return book

    def __len__(self) -> int:
        view = self._view
        return len(view.account_ids) if isinstance(view, _Lists) else len(view.ids)

    @property
    def account_ids(self) -> list[str]:
        view = self._view
        if isinstance(view, _Lists):
            return view.account_ids
        if view.account_ids is None:
            view.account_ids = view.ids.to_pylist()
        return view.account_ids

    @account_ids.setter
    def account_ids(self, value: list[str]) -> None:
        self._to_lists().account_ids = value

    @property
    def columns(self) -> list[list[int]]:
        """columns[a][i]: account i's balance of assets[a]."""
        view = self._view
        if isinstance(view, _Lists):
            return view.columns
        if view.columns is None:
            view.columns = [_ints(view.hi[:, a], view.lo[:, a]) for a in range(len(self.assets))]
        return view.columns

    @columns.setter
    def columns(self, value: list[list[int]]) -> None:
        self._to_lists().columns = value

    def _to_lists(self) -> _Lists:
        if isinstance(self._view, _Arrays):
            self._view = _Lists(self.account_ids, self.columns)
        return self._view

    @property
    def ids(self) -> Any:
        """Account ids as an Arrow string array, in account order."""
        view = self._view
        if isinstance(view, _Lists):
            import pyarrow as pa

            return pa.array(view.account_ids, pa.string())
        return view.ids

    def limbs(self) -> tuple[np.ndarray, np.ndarray]:
        """(hi, lo) uint64 arrays of shape (accounts, assets); refuses what a sum tree cannot hold."""
        view = self._view
        if isinstance(view, _Arrays):
            return view.hi, view.lo
        count = len(view.account_ids)
        hi = np.zeros((count, len(self.assets)), dtype=np.uint64)
        lo = np.zeros((count, len(self.assets)), dtype=np.uint64)
        for a, column in enumerate(view.columns):
            if len(column) != count or any(type(v) is not int or not 0 <= v <= MAX_UNITS for v in column):
                raise TreeError(f"balances of {self.assets[a].symbol} must be {count} integers 0..2^128-1")
            hi[:, a], lo[:, a] = ints_to_limbs(column)
        return hi, lo

    @property
    def totals(self) -> list[int]:
        view = self._view
        if isinstance(view, _Lists):
            return [sum(col) for col in view.columns]
        return [exact_sum(view.hi[:, a], view.lo[:, a]) for a in range(len(self.assets))]

    def balances_of(self, index: int) -> dict[str, int]:
        view = self._view
        if isinstance(view, _Lists):
            return {asset.symbol: col[index] for asset, col in zip(self.assets, view.columns)}
        return {
            asset.symbol: (int(view.hi[index, a]) << 64) | int(view.lo[index, a]) for a, asset in enumerate(self.assets)
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Liabilities):
            return NotImplemented
        return (self.assets, self.account_ids, self.columns) == (other.assets, other.account_ids, other.columns)

    def __repr__(self) -> str:
        return f"Liabilities({len(self)} accounts, assets={[a.symbol for a in self.assets]})"


def _ints(hi: np.ndarray, lo: np.ndarray) -> list[int]:
    if not hi.any():
        return lo.tolist()
    return [(h << 64) | low for h, low in zip(hi.tolist(), lo.tolist())]


def exact_sum(hi: np.ndarray, lo: np.ndarray) -> int:
    """Sum of 128-bit values from limbs, in 32-bit quarters so no uint64 sum can wrap."""
    quarter = np.uint64(0xFFFFFFFF)
    shift = np.uint64(32)
    parts = (lo & quarter, lo >> shift, hi & quarter, hi >> shift)
    return sum(int(p.sum(dtype=np.uint64)) << (32 * k) for k, p in enumerate(parts))
