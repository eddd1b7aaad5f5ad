"""Every customer's inclusion proof in one streaming pass (`por prove DIR --all --out-dir D`).

The secrets file is read once, in blocks of accounts (Arrow's JSON reader); for each
block the leaves and their siblings are gathered from tree.bin (mapped, and
released after every block, so memory stays at a block's worth, plus the text of
the levels of at most UPPER_NODES nodes, spelled once per run, whatever the tree
size) and every proof of the block is spelled at once (por.liabilities.prooftext).
With `--jobs N`, N forked workers each read the secrets and cut the accounts of
their own shards (shard mod N): every shard file is written by one process, in
secrets order, so the files are those of one process.
Each line of the output is exactly the document `por prove DIR ID` gives, in
compact JSON. Before a proof is written its leaves are recomputed from the
secrets' nonce and id and compared with the tree's: a secrets file that does not
belong to the tree is refused, not turned into proofs that fail.

Output: `proofs-XX.jsonl`, XX the first byte of SHA-256(UTF-8 account id) in hex
(an id is never a file name), and `manifest.json` (format, counts, the root).
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from por.errors import InputError
from por.liabilities.build import string_buffers, user_hashes
from por.liabilities.directfiles import DirectFiles
from por.liabilities.levels import leaf_records
from por.liabilities.porjson import PROOF_FORMAT, Commitment, assets_json, sums_json
from por.liabilities.prooftext import hex_strings, json_strings, literal, path_steps, sums_objects
from por.liabilities.secrets import read_header
from por.liabilities.tree import HASH_BYTES, HASH_NAME, VERSION
from por.liabilities.treefile import TreeFile

SHARD_FORMAT = "por-proof-shards"
MANIFEST_FILE = "manifest.json"
SHARDS = 256
BLOCK_BYTES = 4 << 20  # secrets read per block: ~40,000 accounts
UPPER_NODES = 1 << 18  # levels this small are spelled once per run (~140 MB of text at 5 assets)
CUT_PIECES = 1 << 16  # leaves proved per block: ~350 MB of proofs at 5 assets, gathered GATHER_BYTES at a time
GATHER_BYTES = 8 << 20  # proofs laid end to end at once: buffers the allocator keeps for the next

Progress = Callable[[int], None]


def shard_of(account_id: str) -> int:
    """The shard an account's proof is in: the first byte of SHA-256 of its UTF-8 id."""
    return hashlib.sha256(account_id.encode("utf-8")).digest()[0]


def shard_numbers(ids: pa.Array) -> np.ndarray:
    """`shard_of` every id of a block, hashed from the array's UTF-8 bytes (no str per id)."""
    offsets, data = string_buffers(ids)
    raw, bounds, sha256 = data[offsets[0] : offsets[-1]].tobytes(), (offsets - offsets[0]).tolist(), hashlib.sha256
    return np.frombuffer(
        b"".join([sha256(raw[a:b]).digest()[:1] for a, b in zip(bounds[:-1], bounds[1:])]), dtype=np.uint8
    )


def shard_name(shard: int) -> str:
    return f"proofs-{shard:02x}.jsonl"


@dataclass
class SecretsBlock:
    first: int  # account number (0-based, secrets order) of the block's first account
    ids: pa.Array  # strings
    nonces: np.ndarray  # (n, 32) bytes
    leaves: pa.ListArray  # each account's leaf indices, in piece order
    numbers: np.ndarray  # each row's account number (0-based, secrets order: line number - 2)

    def select(self, rows: np.ndarray) -> SecretsBlock:
        picked = pa.array(rows)
        return SecretsBlock(
            self.first, self.ids.take(picked), self.nonces[rows], self.leaves.take(picked), self.numbers[rows]
        )

    def parts(self, pieces: int) -> Iterator[SecretsBlock]:
        """Runs of whole accounts holding about `pieces` leaves each (split accounts hold several)."""
        offsets = self.leaves.offsets.to_numpy()
        cuts = np.searchsorted(offsets - offsets[0], np.arange(pieces, int(offsets[-1] - offsets[0]), pieces))
        for lo, hi in zip([0, *cuts.tolist()], [*cuts.tolist(), len(self.ids)]):
            if hi > lo:
                yield SecretsBlock(
                    self.first,
                    self.ids.slice(lo, hi - lo),
                    self.nonces[lo:hi],
                    self.leaves.slice(lo, hi - lo),
                    self.numbers[lo:hi],
                )


def count_accounts(path: Path) -> int:
    """Lines after the header: a real total for the progress bar, at the speed of reading."""
    lines = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            lines += chunk.count(b"\n")
    return max(0, lines - 1)


_UNHEX = np.full(256, 255, dtype=np.uint8)
_UNHEX[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)


def _nonces(column: pa.Array, path: Path, first: int) -> np.ndarray:
    if column.null_count or not pc.all(pc.equal(pc.binary_length(column), literal(64))).as_py():
        bad = first + next(i for i, v in enumerate(column.to_pylist()) if v is None or len(v) != 64)
        raise InputError("nonce is not 64 hex digits", file=str(path), line=bad + 2)
    offsets, data = string_buffers(column)
    digits = _UNHEX[data[offsets[0] : offsets[-1]]].reshape(len(column), 32, 2)
    if (digits == 255).any():
        bad = first + int(np.nonzero((digits == 255).any(axis=(1, 2)))[0][0])
        raise InputError("nonce is not lower-case hex", file=str(path), line=bad + 2)
    return (digits[:, :, 0] << 4) | digits[:, :, 1]


def secrets_blocks(path: Path, leaf_count: int) -> Iterator[SecretsBlock]:
    """The accounts of a secrets file after its header line, a block at a time, checked."""
    import pyarrow.json as pj

    schema = pa.schema([("account_id", pa.string()), ("nonce", pa.string()), ("leaves", pa.list_(pa.int64()))])
    handle = open(path, "rb")
    with handle:
        handle.readline()
        try:
            reader = pj.open_json(
                handle,
                read_options=pj.ReadOptions(block_size=BLOCK_BYTES),
                parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error"),
            )
        except pa.ArrowInvalid as exc:
            raise InputError(f"malformed secrets ({str(exc)[:120]})", file=str(path)) from None
        first = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowInvalid as exc:
                raise InputError(
                    f"malformed secrets after account {first} ({str(exc)[:120]})", file=str(path)
                ) from None
            ids, nonces, leaves = (batch.column(i) for i in range(3))
            if ids.null_count or leaves.null_count:
                raise InputError(f"an account after line {first + 1} has no account_id or leaves", file=str(path))
            flat = leaves.flatten().to_numpy(zero_copy_only=False)
            if (
                len(flat)
                and (flat.min() < 0 or flat.max() >= leaf_count)
                or pc.min(pc.list_value_length(leaves)).as_py() == 0
            ):
                raise InputError(
                    f"an account after line {first + 1} has no leaves or a leaf outside the tree", file=str(path)
                )
            yield SecretsBlock(first, ids, _nonces(nonces, path, first), leaves, np.arange(first, first + len(ids)))
            first += len(ids)


class ProofCutter:
    """Spells the proofs of a block of accounts from the mapped tree file."""

    def __init__(self, commitment: Commitment, tree: TreeFile, threads: int = 1) -> None:
        self.commitment = commitment
        self.assets = list(commitment.assets)
        self.tree = tree
        self.height = tree.header.height
        self.width = tree.record_size
        root = tree.root()
        labels = {"exchange": commitment.exchange} if commitment.version >= VERSION else {}
        labels["snapshot_id"] = commitment.snapshot_id
        if commitment.version >= VERSION:
            labels["snapshot_time"] = commitment.snapshot_time
        head = json.dumps(
            {"format": PROOF_FORMAT, "version": commitment.version, "hash": HASH_NAME, **labels},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        self.head = head[:-1] + ',"account_id":'
        self.assets_text = json.dumps(assets_json(self.assets), separators=(",", ":"), ensure_ascii=False)
        tail = json.dumps(
            {
                "root": {
                    "hash": root.hash.hex(),
                    "height": commitment.height,
                    "sums": sums_json(self.assets, list(root.sums)),
                },
                "leaf_count": commitment.leaf_count,
                **({"anchor": commitment.carried_anchor} if commitment.carried_anchor is not None else {}),
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )
        self.tail = "]," + tail[1:] + "\n"
        self.real = []  # real (not padding) nodes per level
        real = commitment.leaf_count
        for size in tree.sizes[:-1]:
            self.real.append(real)
            real = size // 2
        self._map = mmap.mmap(tree.handle.fileno(), 0, access=mmap.ACCESS_READ)
        self.levels = [
            np.frombuffer(self._map, np.uint8, count=size * self.width, offset=offset).reshape(size, -1)
            for size, offset in zip(tree.sizes, tree.offsets)
        ]
        # the small levels at the top are spelled once for the whole run: every proof passes
        # through them. Never the leaves: each is one leaf's sibling, spelled by its block.
        self.small = next((h for h in range(1, self.height) if tree.sizes[h] <= UPPER_NODES), self.height)
        self.upper = self._spell_upper(threads)
        self.tail_text = pa.array([self.tail], pa.string())

    def _spell_upper(self, threads: int) -> list[pa.Array]:
        """Every node of the small levels, in `threads` threads: Arrow's kernels let go of the
        GIL, and this runs before the workers are forked (1.6x faster on 2 CPUs)."""
        heights = range(self.small, self.height)
        split = [np.array_split(np.arange(self.tree.sizes[h]), min(8, self.tree.sizes[h])) for h in heights]
        pieces = [(h, nodes) for h, parts in zip(heights, split) for nodes in parts]
        if threads > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(threads) as pool:
                texts = iter(list(pool.map(lambda piece: self._steps(*piece), pieces)))
        else:
            texts = (self._steps(h, nodes) for h, nodes in pieces)
        return [pa.concat_arrays([next(texts) for _ in parts]) for parts in split]

    def close(self) -> None:
        self.levels = []
        self._map.close()

    def release(self) -> None:
        """Drops the mapped pages a block touched from this process (they stay in the page cache)."""
        if hasattr(mmap, "MADV_DONTNEED"):
            self._map.madvise(mmap.MADV_DONTNEED)

    def cut(self, block: SecretsBlock) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """The block's proofs, in block order, in runs of about GATHER_BYTES: the first account
        of the run, one byte buffer and the offsets between its proofs.

        Every text is made once per distinct node (a sibling shared by many paths is spelled
        once), then a gather lays the parts of a run's proofs end to end. (One gather for the
        whole block made a buffer of 350 MB each time, which the allocator hands back to the
        kernel, and the kernel zeroed it again at the next block: a fifth of the run.)
        """
        leaves = block.leaves
        offsets = leaves.offsets.to_numpy().astype(np.int64)
        offsets -= offsets[0]
        n, height = len(block.ids), self.height
        counts = np.diff(offsets)
        index = leaves.flatten().to_numpy(zero_copy_only=False).astype(np.int64)
        owner = np.repeat(np.arange(n), counts)
        piece = np.arange(len(index)) - offsets[:-1][owner]
        leaf = self.levels[0][index]
        self._check_leaves(block, leaf, owner, piece, counts[owner])
        leaf_sums = sums_objects(leaf, self.assets)
        balances = leaf_sums if len(index) == n else self._account_balances(leaf, offsets)
        parts = self._heads(block, balances, leaf_sums, index, piece)
        row = 1 + height  # texts per piece: its head, one per step
        starts = 2 * np.arange(n + 1) + row * offsets  # where each account's texts begin
        at = starts[owner] + 1 + piece * row  # where each piece's texts begin
        take = np.empty(int(starts[-1]), dtype=np.int64)
        take[starts[:-1]] = np.arange(n)
        take[at] = n + np.arange(len(index))
        self._siblings(index, parts, take, at, n + len(index))
        take[starts[1:] - 1] = sum(len(p) for p in parts)
        parts.append(self.tail_text)
        yield from _gather(pa.concat_arrays(parts), take, starts)

    def _siblings(self, index: np.ndarray, parts: list[pa.Array], take: np.ndarray, at: np.ndarray, base: int) -> None:
        """The distinct siblings at each height of the leaves `index`, found in tree order: each
        text is spelled (or taken from the levels spelled once per run) once per block and
        appended to `parts`, and `take` says where each piece's steps are among them."""
        order = np.argsort(index, kind="stable")
        ranked = index[order]
        first = np.empty(len(ranked), dtype=bool)
        first[:1] = True
        for h in range(self.height):
            node = ranked >> h
            np.not_equal(node[1:], node[:-1], out=first[1:])
            sibling = node[first] ^ 1
            rank = np.empty(len(ranked), dtype=np.int64)
            rank[order] = np.cumsum(first) - 1
            if h < self.small:
                parts.append(self._steps(h, sibling))
            else:
                parts.append(self.upper[h - self.small].take(pa.array(sibling)))
            take[at + 1 + h] = base + rank
            base += len(sibling)

    def _heads(
        self, block: SecretsBlock, balances: pa.Array, leaf_sums: pa.Array, index: np.ndarray, piece: np.ndarray
    ) -> list[pa.Array]:
        """The text before each account's leaves (id, nonce, assets, balances), and before each leaf's path."""
        return [
            pc.binary_join_element_wise(
                literal(self.head),
                json_strings(block.ids),
                literal(',"nonce":"'),
                hex_strings(block.nonces),
                literal('","assets":' + self.assets_text + ',"balances":'),
                balances,
                literal(',"leaves":['),
                literal(""),
            ),
            pc.binary_join_element_wise(
                pc.if_else(pa.array(piece > 0), literal(',{"index":'), literal('{"index":')),
                pc.cast(pa.array(index), pa.string()),
                literal(',"piece":'),
                pc.cast(pa.array(piece), pa.string()),
                literal(',"balances":'),
                leaf_sums,
                literal(',"path":['),
                literal(""),
            ),
        ]

    def _steps(self, height: int, nodes: np.ndarray) -> pa.Array:
        return path_steps(
            self.levels[height][nodes],
            height,
            nodes >= self.real[height],
            self.assets,
            end="," if height < self.height - 1 else "]}",
        )

    def _account_balances(self, leaf: np.ndarray, offsets: np.ndarray) -> pa.Array:
        """Balances of accounts split over several leaves: the exact sum of their pieces."""
        limbs = np.ascontiguousarray(leaf[:, HASH_BYTES:]).view(">u8").reshape(len(leaf), -1, 2)
        values = [[(int(h) << 64) | int(lo) for h, lo in row] for row in limbs.tolist()]
        out = []
        for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist()):
            totals = [sum(column) for column in zip(*values[a:b])]
            out.append(json.dumps(sums_json(self.assets, totals), separators=(",", ":"), ensure_ascii=False))
        return pa.array(out, pa.string())

    def _check_leaves(self, block: SecretsBlock, leaf: np.ndarray, owner, piece, count) -> None:
        """Each leaf as the secrets make it (user hash from nonce and id, piece, count, the tree's
        sums) must be the tree's leaf: otherwise the secrets are not this tree's."""
        starts, data = string_buffers(block.ids)
        users = user_hashes(block.nonces, starts[:-1], np.diff(starts), data)
        sums = np.ascontiguousarray(leaf[:, HASH_BYTES:]).view(">u8").reshape(len(leaf), -1, 2)
        made = leaf_records(
            users[owner], piece, count, sums[:, :, 0].astype(np.uint64), sums[:, :, 1].astype(np.uint64)
        )
        bad = np.nonzero((made[:, :HASH_BYTES] != leaf[:, :HASH_BYTES]).any(axis=1))[0]
        if len(bad):
            line = int(block.numbers[owner[bad[0]]]) + 2
            raise InputError(
                "this account's nonce, id or leaves do not make the tree's leaf: the secrets "
                "are not this tree's (or were edited)",
                file="private/secrets.jsonl",
                line=line,
            )


def _gather(source: pa.Array, take: np.ndarray, starts: np.ndarray) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """The texts `take` of `source` end to end, account by account (account i's are
    take[starts[i]:starts[i+1]]), in runs of about GATHER_BYTES."""
    n = len(starts) - 1
    lengths = np.diff(string_buffers(source)[0])
    sizes = np.add.reduceat(lengths[take], starts[:-1]) if n else np.zeros(0, np.int64)
    ends = np.cumsum(sizes)
    cuts = np.searchsorted(ends, np.arange(GATHER_BYTES, int(ends[-1]) if n else 0, GATHER_BYTES), side="right")
    for lo, hi in zip([0, *cuts.tolist()], [*cuts.tolist(), n]):
        if hi > lo:
            texts = source.take(pa.array(take[starts[lo] : starts[hi]]))
            offsets, data = string_buffers(texts)
            bounds = offsets[starts[lo : hi + 1] - starts[lo]]
            yield lo, data[bounds[0] : bounds[-1]], bounds - bounds[0]


class ShardWriter:
    """Writes proofs to `proofs-XX.jsonl` by the SHA-256 of their account id, or all to one stream."""

    def __init__(self, folder: Path | None, stream=None) -> None:
        self.folder, self.stream = folder, stream
        self.files: DirectFiles | None = None
        self.numbers: dict[int, int] = {}  # shard -> its file in self.files
        self.bytes = 0
        self.per_shard = [0] * SHARDS

    def order(self, shards: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
        """The permutation that groups a block's accounts by shard, and the shard bounds in it."""
        if self.stream is not None or shards is None:
            return None
        order = np.argsort(shards, kind="stable")
        return order, np.searchsorted(shards[order], np.arange(SHARDS + 1))

    def write(self, data: np.ndarray, bounds: np.ndarray, shard_bounds: np.ndarray | None) -> None:
        if self.stream is not None:
            self.stream.write(data.data)
            self.bytes += len(data)
            return
        if self.folder is None or shard_bounds is None:
            raise ValueError("a ShardWriter without a stream writes to a folder, in the order it gave")
        if self.files is None:
            self.files = DirectFiles()
        for shard in np.nonzero(np.diff(shard_bounds))[0].tolist():
            lo, hi = int(shard_bounds[shard]), int(shard_bounds[shard + 1])
            if shard not in self.numbers:
                self.numbers[shard] = self.files.open(self.folder / shard_name(shard))
            chunk = data[bounds[lo] : bounds[hi]].data
            self.files.append(self.numbers[shard], chunk)
            self.bytes += len(chunk)
            self.per_shard[shard] += hi - lo

    def close(self) -> None:
        """Every shard written and fsync'd."""
        if self.files is not None:
            self.files.close()

    def abandon(self) -> None:
        """After a failure: the files closed as they are (their folder is removed)."""
        if self.files is not None:
            self.files.abandon()


@dataclass
class Cut:
    proofs: int
    bytes: int
    accounts: int


def cut_every_proof(
    commitment: Commitment,
    tree: TreeFile,
    secrets: Path,
    writer: ShardWriter,
    *,
    sample: np.ndarray | None = None,
    progress: Progress | None = None,
    share: tuple[int, int] = (0, 1),
    cutter: ProofCutter | None = None,
) -> Cut:
    """Streams the secrets once and writes every account's proof (or those of `sample`,
    sorted account numbers) through `writer`; with `share` (k, jobs), only the accounts
    whose shard is k modulo jobs (one worker's whole shards, each in secrets order)."""
    with open(secrets, "rb") as handle:
        read_header(handle.readline(), str(secrets), commitment.snapshot_id, tree.root().hash)
    owned = cutter is None  # else made (and closed) by the parent of the workers, shared by them
    cutter = cutter or ProofCutter(commitment, tree)
    proofs = accounts = 0
    try:
        for block in secrets_blocks(secrets, commitment.leaf_count):
            accounts = block.first + len(block.ids)
            if sample is not None:
                lo, hi = np.searchsorted(sample, [block.first, accounts])
                block = block.select(sample[lo:hi] - block.first)
            shards = None if writer.stream is not None else shard_numbers(block.ids)
            if share[1] > 1 and shards is not None:  # (a stream is cut by one process)
                mine = np.nonzero(shards % share[1] == share[0])[0]
                block, shards = block.select(mine), shards[mine]
            if not len(block.ids):
                continue
            grouped = writer.order(shards)
            if grouped is not None:
                block = block.select(grouped[0])
            first = 0
            for part in block.parts(CUT_PIECES):
                for start, data, bounds in cutter.cut(part):
                    shard_bounds = None if grouped is None else np.clip(grouped[1] - first - start, 0, len(bounds) - 1)
                    writer.write(data, bounds, shard_bounds)
                first += len(part.ids)
                cutter.release()
                proofs += len(part.ids)
                if progress:
                    progress(len(part.ids))
    finally:
        if owned:
            cutter.close()
    return Cut(proofs, writer.bytes, accounts)


def manifest(commitment: Commitment, cut: Cut, per_shard: list[int]) -> dict:
    return {
        "format": SHARD_FORMAT,
        "version": 1,
        "snapshot_id": commitment.snapshot_id,
        "root": commitment.root.hex(),
        "shard_key": "first byte of sha256(utf-8 account_id), hex",
        "proofs": cut.proofs,
        "accounts": cut.accounts,
        "shards": {shard_name(s): n for s, n in enumerate(per_shard) if n},
    }


def choose_sample(accounts: int, size: int | None) -> np.ndarray | None:
    """`size` account numbers drawn without replacement (fresh randomness), sorted; None: all."""
    if size is None:
        return None
    if size < 1:
        raise InputError("must be at least 1", field="--sample")
    rng = np.random.default_rng(int.from_bytes(os.urandom(16), "big"))
    return np.sort(rng.choice(accounts, min(size, accounts), replace=False)).astype(np.int64)


def write_shards(
    commitment: Commitment,
    tree: TreeFile,
    secrets: Path,
    out: Path,
    *,
    sample: np.ndarray | None = None,
    progress: Progress | None = None,
    jobs: int = 1,
) -> Cut:
    """The proofs into a new folder `out`, atomically (a killed run leaves no half folder);
    private to its owner, like the secrets: every proof holds a customer's nonce. With
    `jobs` > 1, forked workers cut disjoint sets of whole shards (the same bytes)."""
    from por.atomic import atomic_directory

    with atomic_directory(out) as staging:
        staging.chmod(0o700)
        job = _Job(commitment, tree.path, secrets, staging, sample, jobs)
        if jobs > 1:
            # the levels spelled once per run are spelled before the fork, once for all workers
            # (Arrow's string kernels run in this thread; its thread pools are remade in a child)
            job.cutter = ProofCutter(commitment, tree, threads=jobs)
            try:
                cut, per_shard = _cut_in_workers(job, progress)
            finally:
                job.cutter.close()
        else:
            cut, per_shard = _cut_share(job, 0, progress)
        (staging / MANIFEST_FILE).write_text(
            json.dumps(manifest(commitment, cut, per_shard), indent=2) + "\n", encoding="utf-8"
        )
    return cut


@dataclass
class _Job:
    commitment: Commitment
    tree: Path
    secrets: Path
    folder: Path
    sample: np.ndarray | None
    jobs: int
    cutter: ProofCutter | None = None


_JOB: _Job | None = None  # what the forked workers inherit
_DONE = None  # proofs cut so far by all workers (shared memory), for the parent's progress bar
_PARENT = 0


def _cut_share(job: _Job, share: int, progress: Progress | None) -> tuple[Cut, list[int]]:
    writer = ShardWriter(job.folder)
    try:
        with TreeFile(job.tree) as tree:
            cut = cut_every_proof(
                job.commitment,
                tree,
                job.secrets,
                writer,
                sample=job.sample,
                progress=progress,
                share=(share, job.jobs),
                cutter=job.cutter,
            )
    except BaseException:
        writer.abandon()
        raise
    writer.close()
    return cut, writer.per_shard


def _cut_in_workers(job: _Job, progress: Progress | None) -> tuple[Cut, list[int]]:
    """Forks `job.jobs` workers; the parent only waits (and shows their progress)."""
    import multiprocessing
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    global _JOB, _DONE, _PARENT
    context = multiprocessing.get_context("fork")
    _JOB, _DONE, _PARENT = job, context.Value("q", 0), os.getpid()
    shown = 0
    try:
        with ProcessPoolExecutor(job.jobs, mp_context=context, initializer=_quiet_worker) as pool:
            futures = [pool.submit(_worker, k) for k in range(job.jobs)]
            pending = set(futures)
            while pending:
                _, pending = wait(pending, timeout=0.25, return_when=FIRST_EXCEPTION)
                if progress and _DONE.value > shown:
                    progress(_DONE.value - shown)
                    shown = _DONE.value
                if any(f.done() and f.exception() for f in futures):
                    break
            results = [f.result() for f in futures]
    except BrokenProcessPool:
        raise OSError("a proof worker process died (out of memory?): run again with --jobs 1") from None
    finally:
        _JOB = _DONE = None
    cuts = [cut for cut, _ in results]
    per_shard = [sum(column) for column in zip(*(shards for _, shards in results))]
    return Cut(sum(c.proofs for c in cuts), sum(c.bytes for c in cuts), max(c.accounts for c in cuts)), per_shard


def _worker(share: int) -> tuple[Cut, list[int]]:
    job, done = _JOB, _DONE
    if job is None or done is None:
        raise RuntimeError("a prove --all worker started outside a run")

    def advance(count: int) -> None:
        with done.get_lock():
            done.value += count

    return _cut_share(job, share, advance)


def _quiet_worker() -> None:
    """As publish's workers (por.liabilities.parallel): the parent reports Ctrl-C and SIGTERM; a
    worker ignores Ctrl-C, dies silently on SIGTERM, and dies with its parent (it holds the
    output folder's lock)."""
    import ctypes
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != _PARENT:
        os._exit(1)
