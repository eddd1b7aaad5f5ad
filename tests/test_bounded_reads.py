"""Size limits count the bytes actually read (issue 12, class 10), never `st_size`: a pipe, `-` or
a device is read once, as it streams, up to the same limit as a file; /dev/zero as any input ends
with one line; a FIFO with no writer waits, as any Unix tool does, and Ctrl-C ends it cleanly;
`por history` hashes a tree no further than its header declares."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fixtures.adversarial import ROOT
from fixtures.adversarial.input_cases import CHAINS, SNAPSHOT, WALLET_HEAD, WALLET_ROW, _text
from fixtures.adversarial.por_cases import Book
from fixtures.liabilities import run_por
from fixtures.sample import write_customers

ZERO = "/dev/zero"


def por(*args: object, cwd: Path, stdin: bytes | None = None, timeout: float = 60) -> tuple[int, str, str, float, int]:
    """`python -m por ARGS` in a child of its own: exit code, stdout, stderr, seconds, peak MB."""
    probe = (
        "import resource, subprocess, sys, time; t = time.monotonic(); "
        "r = subprocess.run([sys.executable, '-m', 'por', *sys.argv[1:]], capture_output=True); "
        "sys.stdout.buffer.write(b'%d %f %d\\n' % (r.returncode, time.monotonic() - t, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024) + r.stdout + b'\\0' + r.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *map(str, args)],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=timeout,
    )
    head, _, rest = done.stdout.partition(b"\n")
    code, seconds, megabytes = head.split()
    out, _, err = rest.partition(b"\0")
    return int(code), out.decode(errors="replace"), err.decode(errors="replace"), float(seconds), int(megabytes)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Valid inputs of every kind, so that the one under test is the only bad one."""
    root = tmp_path_factory.mktemp("bounded")
    book = Book.make(random.Random(3), 5)
    (root / "commitment.json").write_text(_text(book.commitment()))
    (root / "tree.bin").write_bytes(book.tree_bytes())
    (root / "proof.json").write_text(_text(book.proof(1)))
    (root / "snapshot.json").write_text(_text(SNAPSHOT))
    (root / "chains.toml").write_text(CHAINS)
    (root / "wallets.csv").write_text(WALLET_HEAD + WALLET_ROW)
    (root / "prices.csv").write_text("asset,price_jpy,source,time\n")
    write_customers(root / "customers.csv", 20)
    return root


AUDIT = [
    "audit",
    "--commitment",
    "commitment.json",
    "--wallets",
    "wallets.csv",
    "--snapshot",
    "snapshot.json",
    "--config",
    "chains.toml",
    "--policy",
    "jp-fsa",
]
DEVICE_AS = {
    "proof": (["verify-inclusion", ZERO, "--commitment", "commitment.json"], "over the 67108864 limit"),
    "commitment": (["verify-inclusion", "proof.json", "--commitment", ZERO], "over the 16777216 limit"),
    "commitment_of_a_tree": (["verify-tree", "tree.bin", "--commitment", ZERO], "over the 16777216 limit"),
    "assets": (
        ["publish", "--exchange", "Ex", "customers.csv", "--out", "out", "--assets", ZERO],
        "line longer than 4096 bytes",
    ),
    "sign_key": (
        ["publish", "--exchange", "Ex", "customers.csv", "--out", "out", "--sign-key", ZERO],
        "over the 4096 limit",
    ),
    "customers": (["publish", "--exchange", "Ex", ZERO, "--out", "out"], "line longer than 65536 bytes"),
    "tree": (["verify-tree", ZERO], "not a regular file"),
    "wallets": (
        ["reserves", ZERO, "--snapshot", "snapshot.json", "--config", "chains.toml", "--exchange", "ex"],
        "line longer than 1048576 bytes",
    ),
    "snapshot": (
        ["reserves", "wallets.csv", "--snapshot", ZERO, "--config", "chains.toml", "--exchange", "ex"],
        "over the 16777216 limit",
    ),
    "chains_toml": (
        ["reserves", "wallets.csv", "--snapshot", "snapshot.json", "--config", ZERO, "--exchange", "ex"],
        "over the 1048576 limit",
    ),
    "policy": ([*AUDIT[:-1], ZERO], "over the 1048576 limit"),
    "prices": ([*AUDIT, "--prices", ZERO], "over the 16777216 limit"),
}


@pytest.mark.parametrize("kind", sorted(DEVICE_AS))
def test_dev_zero_as_any_input_hits_its_limit_with_one_line(folder, kind):
    argv, words = DEVICE_AS[kind]
    code, out, err, seconds, megabytes = por(*argv, cwd=folder)
    assert code == 2, out + err
    assert words in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert seconds < 20 and megabytes < 200, (seconds, megabytes)
    assert not (folder / "out").exists()


def write_fifo(path: Path, data_blocks, *, delay: float = 0.0) -> threading.Thread:
    """A named pipe at `path` fed by a thread (the writer a shell pipeline would be)."""
    os.mkfifo(path)

    def feed():
        time.sleep(delay)
        try:
            with open(path, "wb") as pipe:
                for block in data_blocks:
                    pipe.write(block)
        except BrokenPipeError:  # the reader stopped at its limit: what we want
            pass

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    return thread


def test_a_65_mib_proof_through_a_named_pipe_is_refused_at_the_limit(folder, tmp_path):
    block = b" " * (1 << 20)
    writer = write_fifo(tmp_path / "proof.fifo", [b'{"format": "por-inclusion-proof",'] + [block] * 65)
    code, out, err, seconds, megabytes = por(
        "verify-inclusion", tmp_path / "proof.fifo", "--commitment", folder / "commitment.json", cwd=folder
    )
    writer.join(10)
    assert code == 2 and "more than 67108864 bytes read, over the 67108864 limit" in err, out + err
    assert megabytes < 300, megabytes


def test_publish_reads_customers_from_a_pipe_and_from_stdin(folder, tmp_path):
    customers = (folder / "customers.csv").read_bytes()
    code, out, err = run_por(
        "publish", "--exchange", "Ex", folder / "customers.csv", "--out", tmp_path / "file", "--snapshot-id", "s"
    )
    assert code == 0, err
    totals = json.loads((tmp_path / "file" / "commitment.json").read_text())["totals"]
    shell = subprocess.run(
        [
            "bash",
            "-c",
            f'"{sys.executable}" -m por publish <(cat customers.csv) --exchange Ex '
            f'--out "{tmp_path / "pipe"}" --snapshot-id s',
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert shell.returncode == 0, shell.stderr
    code, out, err, _, _ = por(
        "publish",
        "--exchange",
        "Ex",
        "-",
        "--out",
        tmp_path / "stdin",
        "--snapshot-id",
        "s",
        cwd=folder,
        stdin=customers,
    )
    assert code == 0, err
    for name in ("pipe", "stdin"):
        doc = json.loads((tmp_path / name / "commitment.json").read_text())
        assert doc["totals"] == totals and doc["leaf_count"] == 20, name


def test_a_proof_and_a_commitment_read_from_stdin_and_a_pipe(folder, tmp_path):
    code, out, err, _, _ = por(
        "verify-inclusion",
        "-",
        "--commitment",
        "commitment.json",
        cwd=folder,
        stdin=(folder / "proof.json").read_bytes(),
    )
    assert code == 0 and out.startswith("VERIFIED"), out + err
    writer = write_fifo(tmp_path / "c.fifo", [(folder / "commitment.json").read_bytes()])
    code, out, err, _, _ = por("verify-inclusion", "proof.json", "--commitment", tmp_path / "c.fifo", cwd=folder)
    writer.join(10)
    assert code == 0 and out.startswith("VERIFIED"), out + err


def test_ctrl_c_ends_a_wait_for_a_fifo_with_no_writer_cleanly(folder, tmp_path):
    os.mkfifo(tmp_path / "nobody.fifo")
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "por",
            "verify-inclusion",
            str(tmp_path / "nobody.fifo"),
            "--commitment",
            "commitment.json",
        ],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    time.sleep(3)  # started, and waiting in open() for a writer
    assert child.poll() is None
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=20)
    assert child.returncode == 130, out + err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 1, err


@pytest.mark.parametrize("target", ["dev_zero", "trailing_data"])
def test_history_hashes_a_tree_no_further_than_its_header_declares(tmp_path, target):
    customers = write_customers(tmp_path / "c.csv", 10)
    code, _, err = run_por("publish", "--exchange", "Ex", customers, "--out", tmp_path / "pub", "--snapshot-id", "s1")
    assert code == 0, err
    tree = tmp_path / "pub" / "tree.bin"
    if target == "dev_zero":
        tree.unlink()
        tree.symlink_to(ZERO)
        words = "tree.bin: not a regular file"
    else:
        with open(tree, "ab") as handle:
            handle.write(b"\0" * (64 << 20))
        words = "tree.bin is not the tree the commitment pins"
    code, out, err, seconds, megabytes = por("history", tmp_path / "pub", cwd=tmp_path, timeout=60)
    assert code == 1 and words in out, out + err
    assert seconds < 20, seconds
