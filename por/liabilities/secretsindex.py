"""The index of the secrets file: where each account's line starts, in account-id order.

`por prove DIR ID` at ten million accounts cannot read 1.2 GB to find one line, so
`publish` writes `private/index.bin` beside the secrets:

    one JSON header line: {"format":"por-secrets-index","version":1,"accounts":N,
                           "secrets_bytes":S,"order":"utf-8 account_id, bytewise ascending"}
    N unsigned 64-bit big-endian byte offsets into secrets.jsonl, one per account line,
    sorted by the UTF-8 bytes of the line's account id

A lookup is a binary search that reads about log2(N) lines of the secrets themselves,
so the index holds no id (it is private all the same: it sits with what it indexes).
It is trusted for nothing: every probe must land on the start of a line of the
secrets file it names (by size), the line found must hold exactly the id asked
for, and an id the index does not find is looked for in the secrets themselves
(a stale or damaged index is reported, never followed to another customer's line).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from por.errors import InputError

INDEX_FORMAT = "por-secrets-index"
RECORD = 8
MAX_LINE = 1 << 16  # a secrets line: an id of <= 1024 characters and <= 64 leaf indices
_ORDER = "utf-8 account_id, bytewise ascending"


def index_header(accounts: int, secrets_bytes: int) -> bytes:
    return (
        json.dumps(
            {
                "format": INDEX_FORMAT,
                "version": 1,
                "accounts": accounts,
                "secrets_bytes": secrets_bytes,
                "order": _ORDER,
            },
            separators=(",", ":"),
        )
        + "\n"
    ).encode()


def write_index(handle, ids, line_starts, secrets_bytes: int) -> None:
    """`line_starts[i]`: byte offset of account i's line (numpy int64); ids: Arrow strings."""
    import numpy as np
    import pyarrow.compute as pc

    order = pc.sort_indices(ids).to_numpy()  # Arrow compares strings by their bytes
    handle.write(index_header(len(ids), secrets_bytes))
    handle.write(np.asarray(line_starts, dtype=np.int64)[order].astype(">u8").tobytes())


class SecretsIndex:
    """Binary search over `index.bin` that reads the candidate lines from the secrets file."""

    def __init__(self, index: Path, secrets: Path) -> None:
        self.index_path, self.secrets_path = index, secrets
        try:
            self.index = open(index, "rb")
        except OSError as exc:
            raise InputError(f"cannot read the secrets index: {exc.strerror}", file=str(index)) from None
        try:
            self.secrets = open(secrets, "rb")
        except OSError as exc:
            self.index.close()
            raise InputError(f"cannot read secrets: {exc.strerror}", file=str(secrets)) from None
        try:
            self._read_header()
        except BaseException:
            self.close()
            raise

    def _read_header(self) -> None:
        line = self.index.readline(4096)
        try:
            head = json.loads(line)
            ok = (
                head["format"] == INDEX_FORMAT
                and head["version"] == 1
                and head["order"] == _ORDER
                and line == index_header(head["accounts"], head["secrets_bytes"])
            )
        except (ValueError, KeyError, TypeError):
            ok = False
        if not ok:
            raise self._damaged("not a por secrets index (header line)")
        self.start, self.accounts = len(line), head["accounts"]
        if os.fstat(self.index.fileno()).st_size != self.start + RECORD * self.accounts:
            raise self._damaged(f"should hold {self.accounts} offsets after its header")
        if os.fstat(self.secrets.fileno()).st_size != head["secrets_bytes"]:
            raise self._damaged("was written for a secrets file of another size (stale)")
        self.secrets_bytes = head["secrets_bytes"]

    def _damaged(self, why: str) -> InputError:
        return InputError(
            f"secrets index {why}: delete it (prove then reads the secrets) or publish again", file=str(self.index_path)
        )

    def close(self) -> None:
        self.index.close()
        self.secrets.close()

    def __enter__(self) -> SecretsIndex:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _line(self, k: int) -> tuple[bytes, dict]:
        """The secrets entry the k-th offset points at: (its id's UTF-8 bytes, the parsed entry)."""
        raw = os.pread(self.index.fileno(), RECORD, self.start + RECORD * k)
        offset = int.from_bytes(raw, "big")
        if len(raw) != RECORD or not 0 < offset < self.secrets_bytes:
            raise self._damaged(f"offset {k} is outside the secrets")
        before = os.pread(self.secrets.fileno(), 1, offset - 1)
        text = os.pread(self.secrets.fileno(), MAX_LINE, offset)
        end = text.find(b"\n")
        try:
            if before != b"\n" or end < 0:
                raise ValueError
            entry = json.loads(text[:end])
            key = entry["account_id"].encode("utf-8")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise self._damaged(f"offset {k} is not the start of an account's line") from None
        return key, entry

    def find(self, account_id: str) -> dict | None:
        """The account's secrets entry, or None when the index does not list it."""
        wanted = account_id.encode("utf-8")
        lo, hi = 0, self.accounts
        while lo < hi:
            mid = (lo + hi) // 2
            key, entry = self._line(mid)
            if key == wanted:
                return entry
            if key < wanted:
                lo = mid + 1
            else:
                hi = mid
        return None
