"""Publishing a book larger than memory: the book spilled to disk, the leaves distributed into
runs by leaf position, each run then built as one subtree.

Three passes, each holding a chunk, never the book:
1. read: the customers file in chunks cut after an account's last row (por.liabilities.ingest.
   customer_chunks, the same rules and line numbers as the in-memory reader), each chunk's ids and
   limbs appended to a spill file; what spans chunks is checked here (an id found again later,
   totals, look-alike ids) with one sort of all ids, kept for the secrets index.
2. leaves: per chunk, in account order, the nonces, user hashes and leaf records (a leaf does
   not depend on its position), and the secrets lines; each record goes to the run of its leaf
   position's block of 2^k positions (one file per block, appended in any order).
3. tree: per block, its records put in position order, then its levels 0..k-1 written to their
   places in tree.bin (por/liabilities/build.py says why aligned blocks give the very same tree);
   the levels above the block roots, the root record and the file's SHA-256 here.
Memory holds one chunk or one block per process, the leaf position of every account (8 bytes)
and the id sort (8 bytes) -- 1.6 GB at 100M accounts; the disk holds the book again and the
leaves once more while the tree is built (`check_disk` refuses up front when it cannot).
`jobs` processes share passes 2 and 3; the bytes are those of `por.liabilities.publish.publish`
for the same nonces and leaf order (tests/test_external.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from glob import escape as glob_escape
from pathlib import Path

import numpy as np

from por.amounts import MAX_UNITS, Asset, AssetTable
from por.errors import InputError
from por.liabilities.build import Shuffle, block_levels, string_buffers, upper_levels, user_hashes
from por.liabilities.levels import leaf_records, root_record
from por.liabilities.secrets import write_secret_lines
from por.liabilities.secretsindex import index_header
from por.liabilities.tree import Header, TreeError, level_sizes, record_size

GIB = 1 << 30
DEFAULT_MEMORY = 8 * GIB
ESTIMATE = {".csv": 3, ".parquet": 10, ".pq": 10}  # in-memory peak per byte of customers file (SCALE.md)
LEAF_SLICE = 1 << 18  # accounts hashed at once in pass 2
Progress = Callable[[int], None]


@dataclass
class Chunk:
    """One chunk of the spilled book: accounts first..first+count, at `offset` in the spill file."""

    first: int
    count: int
    symbols: list[str]
    offset: int


@dataclass
class SpilledBook:
    """A validated book on disk (`spill_customers`), read back chunk by chunk."""

    assets: list[Asset]
    chunks: list[Chunk]
    path: Path
    id_bytes: int
    id_order: np.ndarray  # account numbers sorted by id bytes: the secrets index
    warnings: list[str] = field(default_factory=list)
    memory: int = DEFAULT_MEMORY  # the budget its runs are cut for

    def __len__(self) -> int:
        return self.chunks[-1].first + self.chunks[-1].count if self.chunks else 0

    def ids_of(self, chunk: Chunk):
        """A chunk's account ids, as an Arrow string array."""
        import pyarrow as pa

        with open(self.path, "rb") as handle:
            handle.seek(chunk.offset)
            offsets, data = np.load(handle), np.load(handle)
        offsets = offsets.astype(np.int32)  # a chunk's ids are < 2 GiB: at most chunk_rows_for() x MAX_ID_BYTES
        return pa.StringArray.from_buffers(chunk.count, pa.py_buffer(offsets), pa.py_buffer(data))

    def read(self, chunk: Chunk) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(id offsets, id bytes, hi, lo) of a chunk, limbs in the book's asset columns."""
        with open(self.path, "rb") as handle:
            handle.seek(chunk.offset)
            offsets, data, hi, lo = (np.load(handle) for _ in range(4))
        column = [[a.symbol for a in self.assets].index(s) for s in chunk.symbols]
        wide_hi = np.zeros((chunk.count, len(self.assets)), np.uint64)
        wide_lo = np.zeros((chunk.count, len(self.assets)), np.uint64)
        wide_lo[:, column] = lo
        if hi.size:
            wide_hi[:, column] = hi
        return offsets, data, wide_hi, wide_lo


def wants_disk_build(customers: Path, memory: int) -> bool:
    """Whether reading `customers` into memory would likely pass `memory` bytes."""
    try:
        size = customers.stat().st_size
    except OSError:
        return False
    return size * ESTIMATE.get(customers.suffix.lower(), 3) > memory


def chunk_rows_for(memory: int) -> int:
    """Rows read per chunk: about 2 KiB of memory each while a chunk is checked."""
    return max(1, min(1 << 22, memory // 2048))


def block_bits_for(memory: int, asset_count: int, jobs: int) -> int:
    """Runs of 2^k leaf positions: a run, its leaves and their levels in each process within `memory`/2."""
    per_leaf = 8 * record_size(asset_count) * max(1, jobs)
    return max(1, min(22, (memory // per_leaf).bit_length() - 1))


@contextlib.contextmanager
def spilled(customers: Path, table: AssetTable, out: Path, memory: int, progress: Progress | None = None):
    """`spill_customers` into `.OUT.runs-*` beside the output folder `out`, in chunks for `memory`
    bytes; removed afterwards. Call it holding the output's lock (`por.atomic.claim_folder`): a
    spill left by a killed run for the same output (ids and balances) is removed first."""
    out = Path(os.path.abspath(out))
    prefix = f".{out.name}.runs-"
    for stale in out.parent.glob(glob_escape(prefix) + "*"):
        shutil.rmtree(stale, ignore_errors=True)
    check_disk(out.parent, estimated_needs(customers), estimated=True)  # before the hour of reading, roughly
    work = Path(tempfile.mkdtemp(prefix=prefix, dir=out.parent))  # mode 0700: ids and balances
    try:
        book = spill_customers(customers, table, work, chunk_rows_for(memory), progress)
        book.memory = memory
        yield book
    finally:
        shutil.rmtree(work, ignore_errors=True)


def spill_customers(
    customers: Path, table: AssetTable, work: Path, chunk_rows: int, progress: Progress | None = None
) -> SpilledBook:
    """Pass 1: reads and checks the book chunk by chunk into `work`/book.bin."""
    from por.liabilities.ingest import customer_chunks

    path = work / "book.bin"
    chunks, assets, warnings, wide = [], {}, [], []
    totals: dict[str, int] = {}
    first = id_bytes = 0
    with open(path, "wb") as handle:
        for book in customer_chunks(customers, table, chunk_rows, progress):
            offsets, data = string_buffers(book.ids)
            data = data[offsets[0] : offsets[-1]]
            offsets = offsets - offsets[0]
            hi, lo = book.limbs()
            chunks.append(Chunk(first, len(book), [a.symbol for a in book.assets], handle.tell()))
            for array in (offsets, data, hi if hi.any() else np.zeros(0, np.uint64), lo):
                np.save(handle, array)
            for asset, total in zip(book.assets, book.totals):
                assets[asset.symbol] = asset
                totals[asset.symbol] = totals.get(asset.symbol, 0) + total
            warnings += book.warnings
            wide += _wide_ids(book.ids, first)
            first += len(book)
            id_bytes += len(data)
    for symbol, total in totals.items():
        if total > MAX_UNITS:
            raise InputError(f"total of {symbol} exceeds 2^128-1 base units", file=str(customers), field="amount")
    spilled = SpilledBook(sorted(assets.values(), key=lambda a: a.symbol), chunks, path, id_bytes, np.zeros(0))
    spilled.id_order = _check_ids(spilled, wide, str(customers))
    spilled.warnings = warnings
    return spilled


def _wide_ids(ids, first: int) -> list[tuple[int, str]]:
    """(account, id) of the ids that are not all ASCII: the only ones that can look alike."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ascii_only = pc.match_substring_regex(ids, r"^[\x00-\x7f]*$")
    if pc.all(ascii_only).as_py():
        return []
    rows = np.nonzero(~pc.fill_null(ascii_only, False).to_numpy(zero_copy_only=False))[0]
    return [(first + int(r), text) for r, text in zip(rows, ids.take(pa.array(rows)).to_pylist())]


def _all_ids(book: SpilledBook):
    import pyarrow as pa

    return pa.chunked_array([book.ids_of(chunk) for chunk in book.chunks], pa.string())


def _check_ids(book: SpilledBook, wide: list[tuple[int, str]], source: str) -> np.ndarray:
    """Every id once in the whole book (the chunks checked their own), none like another; returns
    the accounts in id-byte order (the secrets index)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = _all_ids(book)
    order = pc.sort_indices(ids).to_numpy()
    step = 1 << 20
    for start in range(0, len(order), step):
        ranked = ids.take(pa.array(order[start : start + step + 1]))
        if len(ranked) > 1 and pc.any(pc.equal(ranked.slice(1), ranked.slice(0, len(ranked) - 1))).as_py():
            raise InputError(
                "an account's rows are in two places of the file: a book larger than memory is read in "
                "chunks, so sort it by account_id (or give --max-memory more)",
                file=source,
                field="account_id",
            )
    if wide:
        forms = pa.array([unicodedata.normalize("NFKC", text) for _, text in wide], pa.string())
        found = np.zeros(len(forms), dtype=bool)
        for chunk in ids.chunks:  # one chunk at a time: all ids in one string array pass 2 GiB at 100M
            found |= pc.is_in(forms, value_set=chunk).to_numpy(zero_copy_only=False)
        from por.liabilities.rows import ambiguous_ids

        same = [text for (_, text), f, form in zip(wide, found.tolist(), forms.to_pylist()) if f and form != text]
        same += [wide[a][1] for a, _ in ambiguous_ids([text for _, text in wide])]
        if same:
            raise InputError(
                f"account id {same[0]!r} equals another after Unicode NFKC normalisation: a customer cannot "
                "tell them apart (ambiguous ids)",
                file=source,
                field="account_id",
            )
    return order


# --- disk ----------------------------------------------------------------------------------


def free_bytes(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def publication_bytes(accounts: int, leaf_count: int, asset_count: int, id_bytes: int, head: int) -> dict[str, int]:
    """What a publication writes, from the book's size: tree.bin exactly, the secrets at most
    (ids as written, without JSON escapes), the index exactly."""
    width = record_size(asset_count)
    digits = len(str(max(leaf_count - 1, 0)))
    return {
        "tree.bin": head + (sum(level_sizes(leaf_count)) + 1) * width,
        "secrets": 200 + id_bytes + leaf_count * (digits + 2) + accounts * 105,
        "index": 200 + 8 * accounts,
    }


def estimated_needs(customers: Path) -> dict[str, int]:
    """What a disk build of `customers` will write, estimated before reading it: rows from the file
    (Parquet's metadata, or a CSV's size over its first MiB's mean line), and rows per account,
    assets and id length from that first part. `publish` checks the exact figures again after
    reading; this lets a book that cannot fit be refused before an hour of work."""
    sample = _first_rows(customers)
    if not sample:
        return {}
    ids = [row[0] for row in sample]
    accounts_in_sample = len(set(ids))
    rows = _row_count(customers, sample)
    accounts = max(1, rows * accounts_in_sample // len(sample))
    assets = len({row[1] for row in sample})
    id_bytes = accounts * sum(len(i.encode()) for i in set(ids)) // accounts_in_sample
    needs = publication_bytes(accounts, accounts, assets, id_bytes, 1 << 10)
    needs["sorted runs"] = accounts * (4 + record_size(assets))
    needs["spill of the book"] = id_bytes + accounts * 8 * (1 + assets)
    return needs


def _first_rows(customers: Path, size: int = 1 << 20) -> list[tuple[str, str]]:
    """(id, asset) of the rows in the first MiB of a CSV, or the first row group of a Parquet file."""
    try:
        if customers.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            group = pq.ParquetFile(customers).read_row_group(0, columns=["account_id", "asset"])
            return list(zip(group.column(0).to_pylist()[: 1 << 16], group.column(1).to_pylist()[: 1 << 16]))
        with open(customers, "rb") as handle:
            lines = handle.read(size).split(b"\n")[1:-1]
    except (OSError, ValueError, KeyError):
        return []
    pairs = (line.decode("utf-8", "replace").split(",") for line in lines if line.count(b",") >= 2)
    return [(pair[0], pair[1]) for pair in pairs]


def _row_count(customers: Path, sample: list) -> int:
    if customers.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return pq.ParquetFile(customers).metadata.num_rows
    with open(customers, "rb") as handle:
        head = handle.read(1 << 20)
    lines = max(1, head.count(b"\n") - 1)
    return customers.stat().st_size * lines // max(1, len(head))


def _size(n: int) -> str:
    for unit, scale in (("GiB", GIB), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def check_disk(folder: Path, needs: dict[str, int], estimated: bool = False, shown: Path | None = None) -> None:
    """Refuses (exit 2) before any writing when `folder`'s file system cannot hold `needs`; the
    message names `shown` (the --out the user gave) rather than a staging folder."""
    free = free_bytes(folder)
    total = sum(needs.values())
    if total > free:
        parts = ", ".join(f"{name} {_size(size)}" for name, size in needs.items())
        raise InputError(
            f"not enough disk: the publication needs {'about ' if estimated else ''}{_size(total)} "
            f"({parts}) and the disk of {shown or folder} has {_size(free)} free: free some, or publish "
            "to another disk",
            field="--out",
        )


# --- passes 2 and 3 --------------------------------------------------------------------------


@dataclass
class _Plan:
    """What every worker inherits (set before the fork)."""

    book: SpilledBook
    positions: np.ndarray  # account -> leaf position
    runs: Path
    bits: int  # runs hold blocks of 2^bits positions
    tree: str
    level_offsets: np.ndarray
    width: int


_PLAN: _Plan | None = None


def _plan_here() -> _Plan:
    """The plan a forked worker (or this process, during a build) reads."""
    if _PLAN is None:
        raise RuntimeError("no external build in progress")
    return _PLAN


def write_tree_and_secrets(
    book: SpilledBook,
    header: Header,
    head: bytes,
    files: tuple[Path, Path, Path],
    shuffle: Shuffle | None = None,
    jobs: int = 1,
    bits: int | None = None,
    progress: Progress | None = None,
) -> tuple[np.ndarray, bytes]:
    """tree.bin, the secrets (placeholder root) and their index; returns (root record, tree SHA-256)."""
    global _PLAN
    tree, secrets, index = files
    count = len(book)
    positions = _positions(count, shuffle)
    width = record_size(len(book.assets))
    sizes = level_sizes(count)
    top = min(bits or block_bits_for(book.memory, len(book.assets), jobs), len(sizes) - 1)
    runs = Path(tempfile.mkdtemp(prefix="runs-", dir=book.path.parent))
    offsets = np.concatenate([[0], np.cumsum(sizes)]) * width + len(head)
    _PLAN = _Plan(book, positions, runs, top, str(tree), offsets, width)
    with open(tree, "wb") as handle:
        handle.write(head)
    try:
        with _pool(jobs) as pool:
            starts = _leaves_and_secrets(pool, secrets, header.snapshot_id, shuffle, progress)
            roots = list(_mapped(pool, _build_run, range(-(-count // (1 << top)))))
    finally:
        _PLAN = None
        shutil.rmtree(runs, ignore_errors=True)
    _write_index(index, book.id_order, starts, secrets.stat().st_size)
    for _, nodes in roots:
        if progress:
            progress(nodes)
    return _finish_tree(tree, header, np.concatenate([r for r, _ in roots]), top, len(book.assets), offsets, progress)


def _positions(count: int, shuffle: Shuffle | None) -> np.ndarray:
    if shuffle is not None:
        shuffle.check(count, count)
        order = np.asarray(shuffle.order, dtype=np.int64)
    else:
        order = np.random.default_rng(int.from_bytes(os.urandom(32), "big")).permutation(count)
    positions = np.empty(count, dtype=np.int64)
    positions[order] = np.arange(count)
    return positions


@contextlib.contextmanager
def _pool(jobs: int):
    if jobs <= 1:
        yield None
        return
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_started, initargs=(os.getpid(),))
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _worker_started(parent: int) -> None:
    """As por.liabilities.parallel's workers: Ctrl-C is the parent's to report, and a worker dies with it."""
    import ctypes
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def _mapped(pool, function, items) -> Iterator:
    return map(function, items) if pool is None else pool.map(function, items)


def _leaves_and_secrets(pool, secrets: Path, snapshot_id: str, shuffle: Shuffle | None, progress) -> np.ndarray:
    """Pass 2: leaf records into runs (workers), secrets lines here, chunk by chunk in account order."""
    from por.liabilities.secrets import header_line

    plan = _plan_here()
    starts = np.empty(len(plan.book), dtype=np.int64)
    head = header_line(snapshot_id, bytes(32)).encode()
    pending: list = []
    with open(secrets, "wb") as handle:
        handle.write(head)
        written = len(head)
        for number, chunk in enumerate(plan.book.chunks):
            first, stop = chunk.first, chunk.first + chunk.count
            nonces = shuffle.nonces[32 * first : 32 * stop] if shuffle else os.urandom(32 * chunk.count)
            pending.append(pool.submit(_leaf_run, number, nonces) if pool else _leaf_run(number, nonces))
            ids = plan.book.ids_of(chunk)
            starts[first:stop], written = write_secret_lines(handle, ids, nonces, plan.positions[first:stop], written)
            while pending and (len(pending) > 4 or not pool or pending[0].done()):
                done = pending.pop(0)
                done = done if isinstance(done, int) else done.result()
                if progress:
                    progress(done)
        for future in pending:
            done = future.result()  # every run complete before any is read
            if progress:
                progress(done)
        handle.flush()
        os.fsync(handle.fileno())
    return starts


def _leaf_run(number: int, nonces: bytes) -> int:
    """In a worker: a chunk's user hashes and leaves, each appended to its block's run."""
    plan = _plan_here()
    chunk = plan.book.chunks[number]
    offsets, data, hi, lo = plan.book.read(chunk)
    nonce_rows = np.frombuffer(nonces, dtype=np.uint8).reshape(-1, 32)
    mask = (1 << plan.bits) - 1
    for start in range(0, chunk.count, LEAF_SLICE):
        stop = min(start + LEAF_SLICE, chunk.count)
        starts = offsets[start:stop]
        users = user_hashes(nonce_rows[start:stop], starts, offsets[start + 1 : stop + 1] - starts, data)
        position = plan.positions[chunk.first + start : chunk.first + stop]
        rows = np.empty((stop - start, 4 + plan.width), dtype=np.uint8)
        rows[:, :4] = (position & mask).astype("<u4").view(np.uint8).reshape(-1, 4)
        rows[:, 4:] = leaf_records(users, 0, 1, hi[start:stop], lo[start:stop])
        run = position >> plan.bits
        order = np.argsort(run, kind="stable")
        rows, run = rows[order], run[order]
        cuts = np.flatnonzero(np.diff(run)) + 1
        for part, block in zip(np.split(rows, cuts), run[np.concatenate([[0], cuts])].tolist()):
            fd = os.open(plan.runs / f"{block}", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                _write_all(fd, part)  # O_APPEND: whole writes from two processes never interleave
            finally:
                os.close(fd)
    return chunk.count  # leaves made


def _build_run(block: int) -> tuple[np.ndarray, int]:
    """In a worker: block `block`'s leaves in position order, its levels written; returns its root."""
    plan = _plan_here()
    size = 1 << plan.bits
    first = block * size
    expected = min(size, len(plan.book) - first)
    path = plan.runs / f"{block}"
    rows = np.fromfile(path, dtype=np.uint8).reshape(-1, 4 + plan.width)
    os.unlink(path)  # its disk is free again as soon as the block is read
    at = np.ascontiguousarray(rows[:, :4]).view("<u4").ravel().astype(np.int64)
    seen = np.zeros(expected, dtype=bool)
    if len(rows) != expected or at.max(initial=0) >= expected:
        raise TreeError(f"run {block} holds {len(rows)} leaves, not {expected}")
    seen[at] = True
    if not seen.all():
        raise TreeError(f"run {block} lacks a leaf position")
    leaves = np.empty((expected, plan.width), dtype=np.uint8)
    leaves[at] = rows[:, 4:]
    del rows
    levels = block_levels(leaves, first, plan.bits, len(plan.book.assets))
    fd = os.open(plan.tree, os.O_WRONLY)
    try:
        for height in range(plan.bits):
            _pwrite(fd, levels[height], int(plan.level_offsets[height]) + (first >> height) * plan.width)
    finally:
        os.close(fd)
    written = sum(len(level) for level in levels[: plan.bits])
    return levels[plan.bits], written - expected  # records written beyond the leaves (counted in pass 2)


def _finish_tree(
    tree: Path, header: Header, roots: np.ndarray, top: int, asset_count: int, offsets, progress: Progress | None
) -> tuple:
    upper = upper_levels(roots, top, asset_count)
    fd = os.open(tree, os.O_RDWR)
    try:
        for height, level in enumerate(upper, top):
            _pwrite(fd, level, int(offsets[height]))
            if progress:
                progress(len(level))
        root = root_record(header, upper[-1][0])
        _pwrite(fd, root, int(offsets[-1]))
        digest = hashlib.sha256()
        position = 0
        while chunk := os.pread(fd, 1 << 22, position):
            digest.update(chunk)
            position += len(chunk)
        os.fsync(fd)
    finally:
        os.close(fd)
    return root[0], digest.digest()


def _write_index(path: Path, id_order: np.ndarray, starts: np.ndarray, secrets_bytes: int) -> None:
    """The bytes of por.liabilities.secretsindex.write_index, from the id sort made in pass 1."""
    with open(path, "wb") as handle:
        handle.write(index_header(len(starts), secrets_bytes))
        for start in range(0, len(id_order), 1 << 22):
            handle.write(starts[id_order[start : start + (1 << 22)]].astype(">u8").tobytes())
        handle.flush()
        os.fsync(handle.fileno())


def _write_all(fd: int, data: np.ndarray) -> None:
    view = np.ascontiguousarray(data).data.cast("B")
    while view:
        view = view[os.write(fd, view) :]


def _pwrite(fd: int, data: np.ndarray, offset: int) -> None:
    view = np.ascontiguousarray(data).data.cast("B")
    while view:
        written = os.pwrite(fd, view, offset)
        offset += written
        view = view[written:]
