"""Reading customer files column-wise: Arrow batches in, validated (hi, lo) limbs out.

The rules live in `por.liabilities.rows.check_row`. Vectorised checks here only pick
the rows that *might* break one (a superset: anything not plainly ASCII, not
a plain decimal that fits the asset's decimals in 38 digits, or of an asset
the table refuses); each picked row goes through `check_row`. So the errors a
user sees, and the lines they name, are exactly what a row-by-row reader
reports: every bad row is set aside and reading goes on, and the first
MAX_REPORTED_ROWS errors by line (a row's own, a duplicate (account, asset), a
running total over 2^128-1, ambiguous ids) are named in one `InputErrors`, the
rest counted; the first of them is what a row-by-row reader stops at.

Amounts become limbs without floats: Arrow casts the decimal string to
decimal128(38, decimals), whose unscaled value is a 16-byte little-endian
integer, i.e. (lo, hi) uint64 pairs.

CSV comes in two ways. A plain file (no quotes, CR, NUL or blank lines: what
exporters write) is parsed by Arrow's multi-threaded reader, and row k is
line k + 2. Anything else goes through `csv` line by line (por.liabilities.rows),
which knows quoting and names the line of a malformed record exactly. So does
anything that is not a regular file (`-`, a pipe, a device): the fast path reads
a file twice, a stream can be read once.
"""

from __future__ import annotations

import bisect
import os
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from por.amounts import MAX_UNITS, Asset, AssetTable
from por.errors import MAX_REPORTED_ROWS, InputError, InputErrors
from por.liabilities.book import Liabilities, exact_sum
from por.liabilities.rows import (
    HEADER,
    MAX_CUSTOMER_BYTES,
    MAX_FIELD_CHARS,
    ambiguous_ids,
    check_asset_symbol,
    check_row,
    csv_rows,
    mixed_scripts,
)
from por.liabilities.tree import MAX_ASSETS
from por.text import is_regular_file

if TYPE_CHECKING:  # pyarrow is imported where a file is read (start-up time); it ships no type stubs
    import pyarrow as pa

BATCH_ROWS = 1 << 16
_PLAIN_ID = r"^[\x21-\x7e]{1,256}$"  # printable ASCII, no space: passes check_account_id
_PLAIN_AMOUNT = r"^[0-9]+(\.[0-9]+)?$"  # what parse_amount accepts, minus stripping
_DECIMAL_DIGITS = 38


class _Irregular(Exception):
    """The fast CSV path cannot promise exact line numbers for this file."""


@dataclass
class Batch:
    first_line: int  # line of the first row (rows consecutive) ...
    lines: np.ndarray | None  # ... or each row's line
    ids: pa.Array  # Arrow string arrays, one value per row
    assets: pa.Array
    amounts: pa.Array
    decimal_amounts: pa.Array | None = None  # Parquet decimals: the source of the text of picked rows
    errors: tuple[InputError, ...] = ()  # rows of these lines the reader could not split

    def line(self, row: int) -> int:
        return int(self.lines[row]) if self.lines is not None else self.first_line + row


def load_customers(
    path: str | Path, table: AssetTable | None = None, *, progress: Callable[[int], None] | None = None
) -> Liabilities:
    """CSV or Parquet (by extension) -> validated Liabilities. `progress(rows)` as rows are read."""
    return read_customers(Path(path), table or AssetTable(), progress)


def read_customers(path: Path, table: AssetTable, progress: Callable[[int], None] | None = None) -> Liabilities:
    _returning_allocator()
    if not is_regular_file(path):
        # `-`, a pipe (`publish <(...)`), a device: read once, as it streams, by the exact reader
        return _collect(_python_csv_batches(path), table, str(path), progress)
    if path.stat().st_size > MAX_CUSTOMER_BYTES:
        raise InputError(f"file is {path.stat().st_size} bytes, over the {MAX_CUSTOMER_BYTES} limit", file=str(path))
    if path.suffix.lower() in (".parquet", ".pq"):
        return _collect(_parquet_batches(path), table, str(path), progress)
    try:
        return _collect(_plain_csv_batches(path), table, str(path), progress)
    except _Irregular:
        return _collect(_python_csv_batches(path), table, str(path), progress)


def row_count(path: Path, block: int = 16 << 20) -> int | None:
    """The rows a progress bar counts to: Parquet's own count; a CSV's lines after the header
    (exact for the plain files exchanges export; an upper bound when blank lines or quoted line
    breaks are in it); None for a pipe, or a file that cannot be read here (the reader says why)."""
    if not is_regular_file(path):
        return None
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return pq.ParquetFile(_arrow_source(path)).metadata.num_rows
        lines, last = 0, b"\n"
        with open(path, "rb") as handle:
            while chunk := handle.read(block):
                lines, last = lines + chunk.count(b"\n"), chunk[-1:]
    except Exception:  # noqa: BLE001 - only a bar's total: the read that follows reports the real error
        return None
    lines += last != b"\n"
    return lines - 1 if lines > 1 else None


def _returning_allocator() -> None:
    """Arrow on jemalloc, which hands freed pages back to the OS within a second; its
    default mimalloc keeps them, and reading 10M accounts then peaks 0.8 GB higher."""
    import pyarrow as pa

    if pa.default_memory_pool().backend_name == "mimalloc":
        try:
            pa.set_memory_pool(pa.jemalloc_memory_pool())
        except NotImplementedError:  # a pyarrow built without jemalloc
            pass


def _collect(
    batches: Iterator[Batch], table: AssetTable, source: str, progress: Callable[[int], None] | None
) -> Liabilities:
    collector = _Collector(table, source)
    pending = None
    try:
        for batch in batches:
            if not collector.add(batch):
                break
            if progress:
                progress(len(batch.ids))
    except InputError as exc:  # a reader error: rows before it still come first
        pending = exc
    return collector.finish(pending)


class _Collector:
    def __init__(self, table: AssetTable, source: str) -> None:
        self.table, self.source = table, source
        self.codes: dict[str, int] = {}  # asset symbol -> code; -1 for a refused symbol
        self.decimals: list[int] = []
        self.symbols: list[str] = []
        # kept rows, one entry per batch: ids (Arrow), asset codes, limbs (hi None when all zero)
        self.row_ids: list[pa.Array] = []
        self.row_codes: list[np.ndarray] = []
        self.row_hi: list[np.ndarray | None] = []
        self.row_lo: list[np.ndarray] = []
        self.starts: list[int] = []  # first global row of each batch
        self.batches: list[Batch] = []  # for line numbers only (arrays dropped)
        self.rows = 0
        self.errors: list[InputError] = []  # the first bad rows, in line order (a row's own rules)
        self.bad_rows = 0  # all of them

    def _code(self, symbol: str) -> int:
        code = self.codes.get(symbol)
        if code is None:
            try:
                check_asset_symbol(symbol)
                decimals = self.table.decimals(symbol)
            except InputError:
                code = -1
            else:
                if len(self.symbols) == MAX_ASSETS:  # the writer's limit, which every reader shares
                    return -1  # not cached: the row names the limit (`_check_picked`)
                code = len(self.symbols)
                self.symbols.append(symbol)
                self.decimals.append(decimals)
            self.codes[symbol] = code
        return code

    def add(self, batch: Batch) -> bool:
        import pyarrow as pa
        import pyarrow.compute as pc

        count = len(batch.ids)
        if not count:
            self._bad(list(batch.errors))
            return True
        encoded = batch.assets.dictionary_encode()
        code_of = np.array([self._code(s) for s in encoded.dictionary.to_pylist()] or [-1], dtype=np.int32)
        codes = code_of[pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False)]
        plain = _mask(pc.match_substring_regex(batch.ids, _PLAIN_ID))
        plain &= _mask(pc.match_substring_regex(batch.amounts, _PLAIN_AMOUNT))
        plain &= codes >= 0
        for column in (batch.ids, batch.assets, batch.amounts):
            if column.null_count:
                plain &= _mask(pc.is_valid(column))
        length = pc.fill_null(pc.binary_length(batch.amounts), 0).to_numpy(zero_copy_only=False)
        dot = pc.fill_null(pc.find_substring(batch.amounts, "."), -1).to_numpy(zero_copy_only=False)
        whole = np.where(dot >= 0, dot, length)
        frac = np.where(dot >= 0, length - dot - 1, 0)
        decimals = np.asarray(self.decimals + [0], dtype=np.int64)[codes]  # code -1 -> the 0 at the end
        plain &= (frac <= decimals) & (whole + decimals <= _DECIMAL_DIGITS)
        hi = np.zeros(count, dtype=np.uint64)
        lo = np.zeros(count, dtype=np.uint64)
        for code in np.unique(codes[plain]).tolist():
            rows = plain & (codes == code)
            exact = pc.cast(batch.amounts.filter(pa.array(rows)), pa.decimal128(_DECIMAL_DIGITS, self.decimals[code]))
            limbs = np.frombuffer(exact.buffers()[1], dtype="<u8").reshape(-1, 2)
            limbs = limbs[exact.offset : exact.offset + len(exact)]
            lo[rows], hi[rows] = limbs[:, 0], limbs[:, 1]
        bad, errors = self._check_picked(batch, np.nonzero(~plain)[0], codes, hi, lo)
        self._bad(sorted([*batch.errors, *errors], key=lambda e: e.line or 0))
        ids, lines = batch.ids, batch.lines
        if bad:  # set the bad rows aside; the rest keep their lines
            good = np.ones(count, dtype=bool)
            good[bad] = False
            lines = (lines if lines is not None else np.arange(count, dtype=np.int64) + batch.first_line)[good]
            ids, codes, hi, lo = ids.filter(pa.array(good)), codes[good], hi[good], lo[good]
            if not len(codes):  # an empty chunk would vanish from the chunked ids: keep none
                return True
        self.starts.append(self.rows)
        self.batches.append(Batch(batch.first_line, lines, None, None, None))
        self.row_ids.append(ids)
        self.row_codes.append(codes.astype(np.int16 if len(self.symbols) < 1 << 15 else np.int32))
        self.row_hi.append(hi.copy() if hi.any() else None)
        self.row_lo.append(lo.copy())
        self.rows += len(codes)
        return True

    def _bad(self, errors: list[InputError]) -> None:
        """Bad rows (batches come in line order): named if among the first MAX_REPORTED_ROWS, counted always."""
        self.bad_rows += len(errors)
        self.errors.extend(errors[: MAX_REPORTED_ROWS - len(self.errors)])

    def _check_picked(self, batch: Batch, rows: np.ndarray, codes, hi, lo) -> tuple[list[int], list[InputError]]:
        """Runs the row rules on each picked row; returns the rows (of the batch) that break one, and why."""
        if not len(rows):
            return [], []
        import pyarrow as pa

        picked = pa.array(rows)
        if batch.decimal_amounts is not None:
            amounts = [None if v is None else format(v, "f") for v in batch.decimal_amounts.take(picked).to_pylist()]
        else:
            amounts = batch.amounts.take(picked).to_pylist()
        values = zip(batch.ids.take(picked).to_pylist(), batch.assets.take(picked).to_pylist(), amounts)
        bad, errors = [], []
        for row, (account_id, asset, amount) in zip(rows.tolist(), values):
            try:
                units = check_row(account_id, asset, amount, self.table)
            except InputError as exc:
                errors.append(exc.at(file=self.source, line=batch.line(row)))
                bad.append(row)
                continue
            codes[row] = self._code(asset)
            if codes[row] < 0:
                errors.append(
                    InputError(
                        f"asset {asset} would be asset number {MAX_ASSETS + 1}: a publication holds "
                        f"at most {MAX_ASSETS} assets",
                        file=self.source,
                        line=batch.line(row),
                        field="asset",
                    )
                )
                bad.append(row)
                continue
            hi[row], lo[row] = units >> 64, units & ((1 << 64) - 1)
        return bad, errors

    def _line(self, row: int) -> int:
        at = bisect.bisect_right(self.starts, row) - 1
        return self.batches[at].line(row - self.starts[at])

    def finish(self, pending: InputError | None) -> Liabilities:
        """The book, or the errors: a row's own, duplicates, a total over 2^128-1, ambiguous ids, then
        what stopped the reader; the first MAX_REPORTED_ROWS by line named, the rest counted."""
        import pyarrow as pa

        encoded = pa.chunked_array(self.row_ids, pa.string()).dictionary_encode()  # one dictionary
        self.row_ids = []  # the batches' arrays are let go: the dictionary holds every id once
        accounts = [chunk.indices.to_numpy(zero_copy_only=False) for chunk in encoded.chunks]
        ids = encoded.chunk(0).dictionary if encoded.num_chunks else pa.array([], pa.string())
        del encoded
        duplicates, repeated = self._duplicates(accounts, len(ids))
        overflow = self._first_overflow(duplicates[0][0] if duplicates else self.rows)
        ambiguous, warnings = self._look_alikes(ids, accounts)
        # at one line, the row's own rules come first, then duplicates, then the running total, then look-alikes
        found = [(e.line, 0, e) for e in self.errors] + [(e.line, 1, e) for _, e in duplicates]
        found += [(c[1].line, rank, c[1]) for rank, c in ((2, overflow), (3, ambiguous)) if c is not None]
        if pending is not None and found:
            found.append((pending.line or 1 << 62, 4, pending))
        if found:
            found.sort(key=lambda c: (c[0] or 0, c[1]))
            total = self.bad_rows + repeated + (overflow is not None) + (ambiguous is not None) + (pending is not None)
            if total == 1:
                raise found[0][2]
            raise InputErrors([c[2] for c in found[:MAX_REPORTED_ROWS]], total)
        if pending is not None:
            raise pending
        if not self.rows:
            raise InputError("no customer rows", file=self.source, line=1)
        book = self._book(ids, accounts)
        book.warnings = warnings
        return book

    def _look_alikes(self, ids, accounts: list[np.ndarray]) -> tuple[tuple[int, InputError] | None, list[str]]:
        """Ids equal after NFKC (refused) and ids that mix scripts confusably (warnings). Only
        non-ASCII ids can be either, so the common all-ASCII book costs one scan."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if not len(ids) or pc.all(pc.match_substring_regex(ids, r"^[\x00-\x7f]*$")).as_py():
            return None, []
        wide = np.nonzero(~_mask(pc.match_substring_regex(ids, r"^[\x00-\x7f]*$")))[0]
        texts = ids.take(pa.array(wide)).to_pylist()
        # ids are numbered in order of first appearance, so id k first appears where the running max reaches k
        running = np.maximum.accumulate(np.concatenate(accounts).astype(np.int64))
        first_rows = np.nonzero(np.diff(running, prepend=-1) > 0)[0]

        def first_line(index: int) -> int:
            return self._line(int(first_rows[index]))

        found = None
        # an ASCII id is its own NFKC form: look up each wide id's form among all ids, then among the wide ones
        forms = [unicodedata.normalize("NFKC", t) for t in texts]
        equal = pc.index_in(pa.array(forms, pa.string()), value_set=ids).to_pylist()
        pairs = {(min(int(w), e), max(int(w), e)) for w, e in zip(wide, equal) if e is not None and e != w}
        pairs |= {(int(wide[a]), int(wide[b])) for a, b in ambiguous_ids(texts)}
        if pairs:
            earlier, later = min(pairs, key=lambda p: (first_line(p[1]), p[0]))
            value = ids[later].as_py()
            line = first_line(later)
            found = (
                int(first_rows[later]),
                InputError(
                    f"account id {value!r} and {ids[earlier].as_py()!r} (line {first_line(earlier)}) are equal after "
                    f"Unicode NFKC normalisation: a customer cannot tell them apart (ambiguous ids)",
                    file=self.source,
                    line=line,
                    field="account_id",
                ),
            )
        warnings = []
        for index, text in zip(wide.tolist(), texts):
            scripts = mixed_scripts(text)
            if scripts:
                warnings.append(
                    f"{self.source}:{first_line(index)}: account id {text!r} mixes scripts "
                    f"({', '.join(scripts)}): it may pass for another id"
                )
        return found, warnings

    def _duplicates(self, accounts: list[np.ndarray], count: int) -> tuple[list[tuple[int, InputError]], int]:
        """The first MAX_REPORTED_ROWS repeated (account, asset) rows, in row order, and how many there are."""
        width = max(1, len(self.symbols))
        seen = np.zeros(count * width, dtype=bool)  # one flag per (account, asset) cell
        for acct, codes in zip(accounts, self.row_codes):
            seen[acct.astype(np.int64) * width + codes] = True
        if int(np.count_nonzero(seen)) == self.rows:
            return [], 0
        del seen
        codes = np.concatenate(self.row_codes)
        keys = np.concatenate(accounts).astype(np.int64) * width + codes
        order = np.argsort(keys, kind="stable")
        ranked = keys[order]
        repeat = np.nonzero(ranked[1:] == ranked[:-1])[0] + 1
        shown = repeat[np.argsort(order[repeat], kind="stable")[:MAX_REPORTED_ROWS]]
        out = []
        for at in shown.tolist():
            row = int(order[at])
            first_row = int(order[np.searchsorted(ranked, ranked[at])])
            symbol = self.symbols[int(codes[row])]
            out.append(
                (
                    row,
                    InputError(
                        f"duplicate row for account and asset {symbol} (first on line {self._line(first_row)})",
                        file=self.source,
                        line=self._line(row),
                    ),
                )
            )
        return out, len(repeat)

    def _first_overflow(self, upto: int) -> tuple[int, InputError] | None:
        totals = [0] * len(self.symbols)
        for codes, hi, lo in zip(self.row_codes, self.row_hi, self.row_lo):
            for code in np.unique(codes).tolist():
                rows = codes == code
                totals[code] += exact_sum(hi[rows] if hi is not None else np.zeros(1, np.uint64), lo[rows])
        if all(total <= MAX_UNITS for total in totals):
            return None
        codes = np.concatenate(self.row_codes)[:upto]
        lo = np.concatenate(self.row_lo)[:upto]
        hi = np.concatenate(
            [h if h is not None else np.zeros(len(low), np.uint64) for h, low in zip(self.row_hi, self.row_lo)]
        )[:upto]
        for code, symbol in enumerate(self.symbols):
            if totals[code] <= MAX_UNITS:
                continue
            running = 0
            rows = np.nonzero(codes == code)[0]
            for row, h, low in zip(rows.tolist(), hi[rows].tolist(), lo[rows].tolist()):
                running += (h << 64) | low
                if running > MAX_UNITS:
                    return row, InputError(
                        f"total of {symbol} exceeds 2^128-1 base units here",
                        file=self.source,
                        line=self._line(row),
                        field="amount",
                    )
        return None

    def _book(self, ids, accounts: list[np.ndarray]) -> Liabilities:
        used = sorted({c for codes in self.row_codes for c in np.unique(codes).tolist()}, key=lambda c: self.symbols[c])
        column_of = np.full(len(self.symbols), -1, dtype=np.int64)
        column_of[used] = np.arange(len(used))
        book_hi = np.zeros((len(ids), len(used)), dtype=np.uint64)
        book_lo = np.zeros((len(ids), len(used)), dtype=np.uint64)
        for acct, codes, hi, lo in zip(accounts, self.row_codes, self.row_hi, self.row_lo):
            columns = column_of[codes]
            book_lo[acct, columns] = lo
            if hi is not None:
                book_hi[acct, columns] = hi
        assets = [Asset(self.symbols[c], self.decimals[c]) for c in used]
        return Liabilities.from_arrays(assets, ids, book_hi, book_lo)


def _mask(array) -> np.ndarray:
    import pyarrow.compute as pc

    return pc.fill_null(array, False).to_numpy(zero_copy_only=False)


# --- readers ----------------------------------------------------------------------


def _plain_csv_batches(path: Path) -> Iterator[Batch]:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    if not _is_plain_csv(path):
        raise _Irregular
    options = dict(
        read_options=pacsv.ReadOptions(skip_rows=1, column_names=HEADER, block_size=8 << 20),
        parse_options=pacsv.ParseOptions(
            quote_char=False, double_quote=False, escape_char=False, newlines_in_values=False, ignore_empty_lines=False
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in HEADER}, strings_can_be_null=False, check_utf8=True
        ),
    )
    line = 2
    try:
        reader = pacsv.open_csv(_arrow_source(path), **options)
        for record_batch in reader:
            columns = [record_batch.column(i) for i in range(3)]
            if any((pc.max(pc.binary_length(c)).as_py() or 0) > MAX_FIELD_CHARS for c in columns):
                raise _Irregular
            for start in range(0, len(record_batch), BATCH_ROWS):
                count = min(BATCH_ROWS, len(record_batch) - start)
                yield Batch(line + start, None, *(c.slice(start, count) for c in columns))
            line += len(record_batch)
    except (pa.ArrowException, OSError):
        raise _Irregular from None


def _is_plain_csv(path: Path, block: int = 16 << 20) -> bool:
    """Header exactly `account_id,asset,amount`, at least one row, and nothing that
    makes a record span lines or a line hold no record."""
    try:
        handle = open(path, "rb")
    except OSError:
        return False
    with handle:
        first = handle.readline(64)
        if first.removeprefix(b"\xef\xbb\xbf") != b"account_id,asset,amount\n":
            return False
        previous, rows = b"\n", False
        while chunk := handle.read(block):
            rows = True
            if (
                b'"' in chunk
                or b"\r" in chunk
                or b"\x00" in chunk
                or b"\n\n" in chunk
                or (previous == b"\n" and chunk[:1] == b"\n")
            ):
                return False
            previous = chunk[-1:]
        return rows


def _python_csv_batches(path: Path) -> Iterator[Batch]:
    """Rows from the `csv` reader (exact for quotes, blank lines, CR), batched."""
    import pyarrow as pa

    lines: list[int] = []
    ids: list[str | None] = []
    assets: list[str | None] = []
    amounts: list[str | None] = []
    errors: list[InputError] = []

    def batch() -> Batch:
        made = Batch(
            0,
            np.asarray(lines, dtype=np.int64),
            pa.array(ids, pa.string()),
            pa.array(assets, pa.string()),
            pa.array(amounts, pa.string()),
            errors=tuple(errors),
        )
        for column in (lines, ids, assets, amounts, errors):
            column.clear()
        return made

    try:
        for line, account_id, asset, amount in csv_rows(path, errors):
            lines.append(line)
            ids.append(account_id)
            assets.append(asset)
            amounts.append(amount)
            if len(lines) == BATCH_ROWS:
                yield batch()
    except InputError:
        if lines or errors:
            yield batch()
        raise
    if lines or errors:
        yield batch()


def _arrow_source(path: Path):
    """What pyarrow opens: the path, or an open file when the name is not UTF-8 (pyarrow encodes names as UTF-8)."""
    import pyarrow as pa

    try:
        str(path).encode("utf-8")
        return str(path)
    except UnicodeEncodeError:
        return pa.OSFile(os.fsencode(path))


def _parquet_batches(path: Path) -> Iterator[Batch]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # pre_buffer=False: with read-ahead, iter_batches' resident memory grows ~20 MB per million
        # rows and never comes back (3 GB over a 100M-account book); a local file gains nothing from it
        parquet = pq.ParquetFile(_arrow_source(path), pre_buffer=False)
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot read Parquet: {exc}", file=str(path)) from None
    names = parquet.schema_arrow.names
    missing = [c for c in HEADER if c not in names]
    if missing:
        raise InputError(f"Parquet file lacks column(s) {', '.join(missing)}", file=str(path))
    for column in HEADER:
        kind = parquet.schema_arrow.field(column).type
        if not (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or (column == "amount" and pa.types.is_decimal(kind))
        ):
            raise InputError(
                f"column must hold strings (or decimals for amount), not {kind}", file=str(path), field=column
            )
    row_number = 0
    batches = parquet.iter_batches(columns=HEADER, batch_size=BATCH_ROWS)
    while True:
        try:
            batch = next(batches, None)
        except (OSError, pa.ArrowException) as exc:
            raise InputError(f"cannot read Parquet: {exc}", file=str(path), line=row_number + 1) from None
        if batch is None:
            return
        ids, assets, amounts = (batch.column(i) for i in range(3))
        text, decimal = _amount_text(amounts)
        yield Batch(row_number + 1, None, _as_string(ids), _as_string(assets), text, decimal)
        row_number += len(batch)


def _as_string(array):
    import pyarrow as pa

    return array if array.type == pa.string() else array.cast(pa.string())


def _amount_text(array):
    """(text, decimal source) of an amount column. Arrow prints a decimal128 of scale >= 0
    exactly as `format(value, "f")` unless it chooses an exponent ("1E-9") or a sign, and
    such text never passes the plain-decimal filter: those rows take Python's text."""
    import pyarrow as pa

    kind = array.type
    if not pa.types.is_decimal(kind):
        return _as_string(array), None
    if pa.types.is_decimal128(kind) and kind.scale >= 0:
        return array.cast(pa.string()), array
    return pa.array([None if v is None else format(v, "f") for v in array.to_pylist()], pa.string()), None


def is_plain_csv(path: Path) -> bool:
    """Whether the fast path may read `path` (no quotes, no CR, no blank lines, the exact header)."""
    return _is_plain_csv(path)


# --- reading in chunks, for the external-memory build (por/liabilities/external.py) ----------


def customer_chunks(
    path: str | Path, table: AssetTable, chunk_rows: int, progress: Callable[[int], None] | None = None
) -> Iterator[Liabilities]:
    """The book as consecutive books of about `chunk_rows` rows, each cut after an account's last row
    (so a book whose accounts' rows are together gives each account to exactly one chunk).

    Each chunk is checked by the same rules as `load_customers`, with the file's own line numbers;
    what spans chunks (an account found again later, totals, look-alike ids) is the caller's to check.
    """
    path = Path(path)
    if not is_regular_file(path):
        yield from _chunked(_python_csv_batches(path), table, str(path), chunk_rows, progress)
        return
    if path.suffix.lower() in (".parquet", ".pq"):
        yield from _chunked(_parquet_batches(path), table, str(path), chunk_rows, progress)
        return
    source = _plain_csv_batches(path) if is_plain_csv(path) else _python_csv_batches(path)
    yield from _chunked(source, table, str(path), chunk_rows, progress)


def _chunked(batches: Iterator[Batch], table: AssetTable, source: str, chunk_rows: int, progress) -> Iterator:
    _returning_allocator()
    collector, rows = _Collector(table, source), 0
    for batch in _until_error(batches, source):
        if isinstance(batch, InputError):  # what stopped the reader: the rows before it still come first
            collector.finish(batch)  # raises: its rows' errors first, then `batch`
            raise batch
        if progress:
            progress(len(batch.ids))
        for part, last in _account_parts(batch, chunk_rows - rows, chunk_rows):
            collector.add(part)
            rows += len(part.ids)
            if last:
                yield collector.finish(None)
                collector, rows = _Collector(table, source), 0
    if rows or collector.errors:
        yield collector.finish(None)


def _until_error(batches: Iterator[Batch], source: str) -> Iterator:
    try:
        yield from batches
    except InputError as exc:
        yield exc
    except _Irregular:
        yield InputError("this CSV needs the exact reader, which reads it whole: write it as Parquet", file=source)


def _account_parts(batch: Batch, room: int, chunk_rows: int) -> Iterator[tuple[Batch, bool]]:
    """The batch in parts cut after an account's last row once a chunk has `chunk_rows` rows
    (`room` left in the current one): (part, whether it ends a chunk)."""
    import pyarrow.compute as pc

    count = len(batch.ids)
    if count <= 1 or room > count:
        yield batch, False
        return
    ids = batch.ids
    changes = np.flatnonzero(~_mask(pc.equal(ids.slice(1), ids.slice(0, count - 1)))) + 1  # a new account starts
    start = 0
    while True:
        at = np.searchsorted(changes, start + max(room, 1))
        if at == len(changes):
            if start < count:
                yield _rows(batch, start, count), False
            return
        cut = int(changes[at])
        yield _rows(batch, start, cut), True
        start, room = cut, chunk_rows


def _rows(batch: Batch, start: int, stop: int) -> Batch:
    if start == 0 and stop == len(batch.ids):
        return batch
    lines = None if batch.lines is None else batch.lines[start:stop]
    decimal = None if batch.decimal_amounts is None else batch.decimal_amounts.slice(start, stop - start)
    ids, assets, amounts = (c.slice(start, stop - start) for c in (batch.ids, batch.assets, batch.amounts))
    return Batch(batch.first_line + start, lines, ids, assets, amounts, decimal, batch.errors if start == 0 else ())
