"""The proof writer around the page cache (por.liabilities.directfiles): every byte lands, in
order, at every size about the block and buffer lines; where O_DIRECT is refused it writes
through the cache; a failed write is raised, and leaves no proofs folder."""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import pytest

from fixtures.liabilities import run_por, write_customers_csv
from por.amounts import Asset
from por.liabilities import directfiles
from por.liabilities.book import Liabilities
from por.liabilities.directfiles import ALIGN, BUFFER, DirectFiles

SIZES = [0, 1, ALIGN - 1, ALIGN, ALIGN + 1, BUFFER - 1, BUFFER, BUFFER + 1, 3 * BUFFER + 5]


def _write(folder: Path, seed: int) -> tuple[dict[Path, bytes], DirectFiles]:
    """Files of every size in SIZES, filled in interleaved pieces of random lengths."""
    rng = random.Random(seed)
    files = DirectFiles()
    wanted = {folder / f"f{k}": rng.randbytes(size) for k, size in enumerate(SIZES)}
    numbers = {path: files.open(path) for path in wanted}
    at = dict.fromkeys(wanted, 0)
    while any(at[p] < len(data) for p, data in wanted.items()):
        path = rng.choice([p for p, data in wanted.items() if at[p] < len(data)])
        step = rng.choice([1, 7, ALIGN - 3, 100_000, BUFFER + 11])
        files.append(numbers[path], memoryview(wanted[path])[at[path] : at[path] + step])
        at[path] += step
    return wanted, files


@pytest.mark.parametrize("seed", [1, 2])
def test_every_byte_lands_in_order(tmp_path, seed):
    wanted, files = _write(tmp_path, seed)
    uses_direct = list(files.direct)
    files.close()
    for path, data in wanted.items():
        assert path.read_bytes() == data, path.name
        assert path.stat().st_mode & 0o777 == 0o600
    assert all(uses_direct) == _takes_o_direct(tmp_path)  # no silent fall-back where it is accepted


def _takes_o_direct(folder: Path) -> bool:
    if not hasattr(os, "O_DIRECT"):
        return False
    try:
        os.close(os.open(folder / "probe", os.O_WRONLY | os.O_CREAT | os.O_DIRECT, 0o600))
    except OSError:
        return False
    return True


def test_a_file_system_refusing_o_direct_is_written_through_the_cache(tmp_path, monkeypatch):
    """As tmpfs before Linux 6.6 and some network file systems: EINVAL at open."""
    real_open = os.open

    def refusing(path, flags, mode=0o777):
        if flags & directfiles.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, mode)

    monkeypatch.setattr(directfiles, "O_DIRECT", getattr(os, "O_DIRECT", 0o40000))
    monkeypatch.setattr(directfiles.os, "open", refusing)
    wanted, files = _write(tmp_path, 3)
    assert not any(files.direct)
    files.close()
    assert all(path.read_bytes() == data for path, data in wanted.items())


def test_a_device_refusing_the_alignment_is_written_through_the_cache(tmp_path, monkeypatch):
    """Blocks larger than ALIGN (EINVAL at the first direct write): the file goes on through the
    cache, every byte in place."""
    import fcntl

    real_write = os.pwrite
    refused = []

    def picky(fd, data, offset):
        if fcntl.fcntl(fd, fcntl.F_GETFL) & directfiles.O_DIRECT:
            refused.append(fd)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data, offset)

    monkeypatch.setattr(directfiles.os, "pwrite", picky)
    wanted, files = _write(tmp_path, 4)
    files.close()
    assert refused and all(path.read_bytes() == data for path, data in wanted.items())


def test_a_failed_write_is_raised(tmp_path, monkeypatch):
    real_write = os.pwrite

    def full(fd, data, offset):
        if len(data) >= ALIGN:  # the writer threads' whole blocks
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data, offset)

    monkeypatch.setattr(directfiles.os, "pwrite", full)
    files = DirectFiles()
    number = files.open(tmp_path / "f")
    with pytest.raises(OSError) as raised:
        for _ in range(20):
            files.append(number, b"x" * BUFFER)
        files.close()
    assert raised.value.errno == errno.ENOSPC


def test_prove_all_on_a_full_disk_leaves_no_folder(tmp_path, monkeypatch):
    """Through the command: exit 2 with the reason, and no half-written proofs folder."""
    book = Liabilities(assets=[Asset("BTC", 8)], account_ids=[f"u{i}" for i in range(3000)], columns=[[5] * 3000])
    csv = write_customers_csv(tmp_path / "c.csv", book)
    assert run_por("publish", csv, "--exchange", "Ex", "-o", tmp_path / "pub", "-q")[0] == 0
    monkeypatch.setattr(directfiles, "BUFFER", ALIGN)  # every 4 KiB goes to the writer thread
    real_write = os.pwrite

    def full(fd, data, offset):
        if len(data) == ALIGN:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data, offset)

    monkeypatch.setattr(directfiles.os, "pwrite", full)
    code, _, err = run_por("prove", tmp_path / "pub", "--all", "--out-dir", tmp_path / "proofs", "--jobs", "1")
    assert code == 2 and "space" in err.lower(), err
    assert not (tmp_path / "proofs").exists()
