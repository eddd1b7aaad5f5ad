"""The book of liabilities: every customer's balance per asset, exact, as the tree builder reads it."""

from __future__ import annotations

import numpy as np

from por.amounts import MAX_UNITS, Asset
from por.liabilities.levels import ints_to_limbs
from por.liabilities.tree import TreeError


class Liabilities:
    """Every customer's per-asset balance in base units, accounts in file order.

    Two views of the same book: lists (`account_ids`, `columns[a][i]`) for
    small callers and tests, and columns for millions of accounts (`ids`, an
    Arrow string array; `limbs()`, (hi, lo) uint64 arrays of shape
    (accounts, assets)). Whichever view it was made from is the truth; the
    other is derived on demand, so a book of lists can still be edited.
    """

    def __init__(self, assets: list[Asset], account_ids: list[str], columns: list[list[int]]) -> None:
        self.assets = list(assets)           # sorted by symbol: the order of sums in every node
        self._account_ids: list[str] | None = account_ids
        self._columns: list[list[int]] | None = columns
        self._ids = self._hi = self._lo = None
        self._lists = True                   # which view is the truth
        self.warnings: list[str] = []        # what the reader found worth a look (ids that mix scripts)

    @classmethod
    def from_arrays(cls, assets: list[Asset], ids, hi: np.ndarray, lo: np.ndarray) -> Liabilities:
        book = cls.__new__(cls)
        book.assets = list(assets)
        book._account_ids = book._columns = None
        book._ids, book._hi, book._lo = ids, hi, lo
        book._lists = False
        book.warnings = []
        return book

    def __len__(self) -> int:
        return len(self._account_ids) if self._lists else len(self._ids)

    @property
    def account_ids(self) -> list[str]:
        if self._account_ids is None:
            self._account_ids = self._ids.to_pylist()
        return self._account_ids

    @account_ids.setter
    def account_ids(self, value: list[str]) -> None:
        self._to_lists()
        self._account_ids = value

    @property
    def columns(self) -> list[list[int]]:
        """columns[a][i]: account i's balance of assets[a]."""
        if self._columns is None:
            self._columns = [_ints(self._hi[:, a], self._lo[:, a]) for a in range(len(self.assets))]
        return self._columns

    @columns.setter
    def columns(self, value: list[list[int]]) -> None:
        self._to_lists()
        self._columns = value

    def _to_lists(self) -> None:
        if not self._lists:
            _ = self.account_ids, self.columns
            self._ids = self._hi = self._lo = None
            self._lists = True

    @property
    def ids(self):
        """Account ids as an Arrow string array, in account order."""
        if self._lists:
            import pyarrow as pa

            return pa.array(self._account_ids, pa.string())
        return self._ids

    def limbs(self) -> tuple[np.ndarray, np.ndarray]:
        """(hi, lo) uint64 arrays of shape (accounts, assets); refuses what a sum tree cannot hold."""
        if not self._lists:
            return self._hi, self._lo
        count = len(self._account_ids)
        hi = np.zeros((count, len(self.assets)), dtype=np.uint64)
        lo = np.zeros((count, len(self.assets)), dtype=np.uint64)
        for a, column in enumerate(self._columns):
            if len(column) != count or any(type(v) is not int or not 0 <= v <= MAX_UNITS for v in column):
                raise TreeError(f"balances of {self.assets[a].symbol} must be {count} integers 0..2^128-1")
            hi[:, a], lo[:, a] = ints_to_limbs(column)
        return hi, lo

    @property
    def totals(self) -> list[int]:
        if self._lists:
            return [sum(col) for col in self._columns]
        return [exact_sum(self._hi[:, a], self._lo[:, a]) for a in range(len(self.assets))]

    def balances_of(self, index: int) -> dict[str, int]:
        if self._lists:
            return {asset.symbol: col[index] for asset, col in zip(self.assets, self._columns)}
        return {asset.symbol: (int(self._hi[index, a]) << 64) | int(self._lo[index, a])
                for a, asset in enumerate(self.assets)}

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
