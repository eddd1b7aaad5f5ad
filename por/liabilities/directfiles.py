"""Files written once, front to back, around the page cache (O_DIRECT), by a writer thread.

`prove --all` writes gigabytes that nobody reads back. Through the page cache every
gigabyte cost this 2-CPU machine 1 to 3 CPU seconds of kernel copying and page
allocation, taken from the CPUs that cut the proofs; written directly, about 0.1
(benchmarks/PROVE_ALL.md). O_DIRECT wants every write aligned, in address, length and
offset: each file fills one page-aligned buffer at a time, and a full buffer goes to
one thread that writes it while the caller goes on cutting (os.write lets go of the
GIL). Buffers are reused, never freed, so no page is zeroed twice. The last partial
block of a file is written without O_DIRECT, then each file is fsync'd. Where O_DIRECT
is refused (tmpfs, or a system without it), the same path writes through the cache.
"""

from __future__ import annotations

import errno
import mmap
import os
import queue
import threading
from pathlib import Path

ALIGN = 4096  # a multiple of every device's logical block size
BUFFER = 1 << 20  # a file's bytes are written in pieces of this size
IN_FLIGHT = 8  # full buffers waiting for the disk at most: then the caller waits
WRITERS = 1  # threads writing (two measured no faster here; pieces carry their offsets, so more may)
O_DIRECT = getattr(os, "O_DIRECT", 0)  # 0 where the system has none


class DirectFiles:
    """New files, each appended to in order; `close` makes them durable (or raises what failed)."""

    def __init__(self) -> None:
        self.fds: list[int] = []
        self.direct: list[bool] = []
        self.buffers: list[mmap.mmap | None] = []  # each file's buffer being filled
        self.filled: list[int] = []
        self.written: list[int] = []  # each file's bytes handed to the writers: where the next piece goes
        self.made = 0
        self.free: queue.Queue[mmap.mmap] = queue.Queue()
        self.work: queue.Queue[tuple[int, mmap.mmap, int, int] | None] = queue.Queue()
        self.error: OSError | None = None
        self.threads = [
            threading.Thread(target=self._write, name="por-proof-writer", daemon=True) for _ in range(WRITERS)
        ]
        for thread in self.threads:
            thread.start()

    def open(self, path: Path) -> int:
        """A new file (it must not exist); returns its number for `append`."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        try:
            fd, direct = os.open(path, flags | O_DIRECT, 0o600), bool(O_DIRECT)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            fd, direct = os.open(path, flags, 0o600), False
        self.fds.append(fd)
        self.direct.append(direct)
        self.buffers.append(None)
        self.filled.append(0)
        self.written.append(0)
        return len(self.fds) - 1

    def append(self, file: int, data) -> None:
        if self.error is not None:
            raise self.error
        rest = memoryview(data).cast("B")
        while len(rest):
            buffer = self.buffers[file]
            if buffer is None:
                buffer = self._buffer(file)
            at = self.filled[file]
            size = min(BUFFER - at, len(rest))
            buffer[at : at + size] = rest[:size]
            rest = rest[size:]
            self.filled[file] = at + size
            if at + size == BUFFER:
                self._send(file, buffer, BUFFER)
                self.buffers[file], self.filled[file] = None, 0

    def _buffer(self, file: int) -> mmap.mmap:
        """A free buffer, or a new one while fewer than one per open file and IN_FLIGHT exist."""
        if self.free.empty() and self.made < len(self.fds) + IN_FLIGHT:
            self.made += 1
            buffer = mmap.mmap(-1, BUFFER)  # anonymous maps are page-aligned
        else:
            buffer = self.free.get()
        self.buffers[file] = buffer
        return buffer

    def _send(self, file: int, buffer: mmap.mmap, size: int) -> None:
        """A piece to the writers, with its place in the file: two writers may write one file
        at once, so each piece says where it goes rather than follow the file's position."""
        self.work.put((self.fds[file], buffer, size, self.written[file]))
        self.written[file] += size

    def _write(self) -> None:
        while (job := self.work.get()) is not None:
            fd, buffer, size, offset = job
            try:
                if self.error is None:
                    try:
                        _write_all(fd, buffer, size, offset)
                    except OSError as exc:
                        if exc.errno != errno.EINVAL or not O_DIRECT:
                            raise
                        _through_the_cache(fd)  # a device whose blocks are larger than ALIGN
                        _write_all(fd, buffer, size, offset)
            except OSError as exc:
                self.error = exc
            finally:
                self.free.put(buffer)

    def close(self) -> None:
        """Writes what is left, fsyncs and closes every file; raises the first write error."""
        tails = []
        try:
            for file, buffer in enumerate(self.buffers):
                whole = self.filled[file] // ALIGN * ALIGN
                tails.append(buffer[whole : self.filled[file]] if buffer is not None else b"")
                if buffer is not None and whole:
                    self._send(file, buffer, whole)
                self.buffers[file] = None
        finally:
            self._stop()
        try:
            if self.error is not None:
                raise self.error
            for file, fd in enumerate(self.fds):
                if tails[file] and self.direct[file]:  # a partial block: through the page cache
                    _through_the_cache(fd)
                _write_all(fd, tails[file], len(tails[file]), self.written[file])
                os.fsync(fd)
        finally:
            self.abandon()

    def abandon(self) -> None:
        """Closes every file without making it durable (the run failed; its folder is removed)."""
        self._stop()
        for fd in self.fds:
            os.close(fd)
        self.fds, self.buffers, self.free = [], [], queue.Queue()  # the maps go with their last reference

    def _stop(self) -> None:
        for thread in self.threads:
            if thread.is_alive():
                self.work.put(None)
        for thread in self.threads:
            thread.join()


def _through_the_cache(fd: int) -> None:
    import fcntl

    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~O_DIRECT)


def _write_all(fd: int, data, size: int, offset: int) -> None:
    """data[:size] at `offset` of the file (a short write goes on where it stopped)."""
    with memoryview(data) as view:
        done = 0
        while done < size:
            done += os.pwrite(fd, view[done:size], offset + done)
