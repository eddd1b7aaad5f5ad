"""Files at the edges: output paths checked before any work, OS errors as one line, publications
never lost. Through child processes, as a user runs `por`.

- `--out` that is a file or under a file, `prove --out` that is a folder, `audit --html` into a
  missing folder, a read-only folder, a full disk (a small tmpfs, at every size from "nothing
  fits" to "almost"), file names that are not UTF-8: exit 2, one line naming the path, no traceback;
- two `publish` runs into one folder: one publishes, the other is refused at once (a lock beside
  the folder); `--force` replaces only a por publication, never a folder holding anything else,
  never the inputs; a swap that fails puts the old publication back under its own name; what a
  killed run left (staging, a publication moved aside) is cleaned up or restored by the next run;
- `por demo --out` refuses a folder that is not an earlier demo's output.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from fixtures.liabilities import run_por_process
from fixtures.sample import write_customers
from fixtures.terminal import ROOT

ENV = {**{k: v for k, v in os.environ.items() if k != "POR_DEBUG"}, "PYTHONPATH": str(ROOT)}


def one_line(err: str, *words: str) -> None:
    assert err.startswith("por: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    for word in words:
        assert word in err, (word, err)


def publish(customers: Path, out: Path, *extra: object) -> tuple[int, str, str]:
    return run_por_process(
        "publish", customers, "--exchange", "Files Exchange", "-o", out, "--snapshot-id", "s1", "-q", *extra
    )


def entries(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    customers = write_customers(folder / "customers.csv", 2000)
    code, _, err = publish(customers, folder / "pub")
    assert code == 0, err
    return folder, customers, folder / "pub"


@contextlib.contextmanager
def tmpfs(size: str, *, read_only: bool = False):
    """A small file system of its own (root only: CI runs as root, and then this never skips)."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("mounting a tmpfs needs root, which CI has")
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    folder = Path(tempfile.mkdtemp(prefix="por-tmpfs-"))
    options = f"size={size}" + (",ro" if read_only else "")
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)
        folder.rmdir()


# --- output paths, checked before any work ------------------------------------------------------------


def test_output_paths_are_checked_before_any_work(book, tmp_path):
    folder, customers, pub = book
    a_file = tmp_path / "a-file"
    a_file.write_text("mine\n")
    cases = [
        (["publish", customers, "--exchange", "E", "-o", a_file], "is a file, not a folder"),
        (["publish", customers, "--exchange", "E", "-o", a_file / "pub"], "is a file, not a folder"),
        (["prove", pub, "user-0000001", "-o", tmp_path], "is a folder"),
        (["prove", pub, "user-0000001", "-o", a_file / "p.json"], "is a file, not a folder"),
        (["prove", pub, "user-0000001", "-o", tmp_path / "missing" / "p.json"], "does not exist"),
        (["history", pub, "--html", tmp_path / "missing" / "h.html"], "does not exist"),
        # the chain config points nowhere: had the output been checked after the chains were read, the
        # error would name the provider instead
        (
            [
                "audit",
                "--commitment",
                pub / "commitment.json",
                "--wallets",
                "w.csv",
                "--snapshot",
                "s.json",
                "--config",
                "c.toml",
                "--policy",
                "full-reserve",
                "--html",
                tmp_path / "missing" / "a.html",
            ],
            "does not exist",
        ),
        (
            [
                "audit",
                "--commitment",
                pub / "commitment.json",
                "--wallets",
                "w.csv",
                "--snapshot",
                "s.json",
                "--config",
                "c.toml",
                "--policy",
                "full-reserve",
                "--json-out",
                tmp_path,
            ],
            "is a folder",
        ),
    ]
    for argv, words in cases:
        started = time.monotonic()
        code, out, err = run_por_process(*argv, cwd=tmp_path)
        assert code == 2 and out == "", (argv, out, err)
        one_line(err, words)
        assert time.monotonic() - started < 30
    assert a_file.read_text() == "mine\n" and entries(tmp_path) == ["a-file"]


def test_a_read_only_folder_is_refused_up_front(book):
    folder, customers, pub = book
    with tmpfs("1m", read_only=True) as ro:
        code, _, err = publish(customers, ro / "pub")
        assert code == 2
        one_line(err, str(ro), "read-only")
        code, _, err = run_por_process("prove", pub, "user-0000001", "-o", ro / "p.json")
        assert code == 2
        one_line(err, str(ro), "read-only")


@pytest.mark.parametrize("size", ["16k", "100k", "200k", "300k", "450k", "560k", "620k", "700k", "2m"])
def test_a_full_disk_is_one_line_and_loses_nothing(book, size):
    """At every size some file fails to fit somewhere else (tree, secrets, page, commitment)."""
    folder, customers, pub = book
    with tmpfs(size) as disk:
        small = disk / "small.csv"
        small.write_text("account_id,asset,amount\nalice,BTC,1\n")
        first = publish(small, disk / "pub")
        before = (disk / "pub" / "commitment.json").read_text() if first[0] == 0 else None
        code, out, err = publish(customers, disk / "pub", "--force")
        if code == 0:
            assert json.loads((disk / "pub" / "commitment.json").read_text())["leaf_count"] == 2000
        else:
            assert code == 2 and out == ""
            # refused up front when the estimate does not fit, else stopped when a write fails
            one_line(err, "not enough disk" if "not enough disk" in err else "disk is full", str(disk / "pub"))
            if before is not None:  # the publication that was there is still there, whole
                assert (disk / "pub" / "commitment.json").read_text() == before
        assert not [e for e in entries(disk) if e.startswith(".pub.")], entries(disk)  # no staging left


def test_file_names_that_are_not_utf8(book, tmp_path):
    folder, customers, _ = book
    name = os.fsdecode(b"clients-\xff\xfe.csv")
    out = tmp_path / os.fsdecode(b"pub-\xe9")
    (tmp_path / name).write_bytes(customers.read_bytes())
    code, _, err = publish(tmp_path / name, out)
    assert code == 0, err
    code, stdout, err = run_por_process("prove", out, "user-0000001", "-o", tmp_path / os.fsdecode(b"p-\xff.json"))
    assert code == 0 and "Traceback" not in err, err
    code, stdout, err = run_por_process(
        "verify-inclusion", tmp_path / os.fsdecode(b"p-\xff.json"), "--commitment", out / "commitment.json"
    )
    assert code == 0 and "VERIFIED" in stdout and "p-\\udcff.json" in stdout, (stdout, err)
    code, _, err = run_por_process("verify-tree", tmp_path / os.fsdecode(b"absent-\xff"))
    assert code == 2
    one_line(err, "absent-\\udcff")


# --- publications are never lost -----------------------------------------------------------------------


def test_two_publishes_into_one_folder_one_wins_the_other_is_refused(book, tmp_path):
    folder, _, _ = book
    big = write_customers(tmp_path / "big.csv", 60_000)
    out = tmp_path / "pub"
    cmd = [sys.executable, "-m", "por", "publish", str(big), "--exchange", "E", "-o", str(out), "--snapshot-id", "s1"]
    runs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV) for _ in range(2)]
    results = [(p.wait(300), *p.communicate()) for p in runs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 2], results
    winner = next(r for r in results if r[0] == 0)
    loser = next(r for r in results if r[0] == 2)
    one_line(loser[2], str(out))
    assert "another por run" in loser[2] or "not empty" in loser[2], loser[2]
    root = json.loads((out / "commitment.json").read_text())["root"]
    assert f"root {root}" in winner[1]  # the root the winner printed is the one published
    assert entries(tmp_path) == ["big.csv", "pub"]  # no lock, no staging left beside it


def test_force_replaces_only_a_por_publication(book, tmp_path):
    folder, customers, _ = book
    out = tmp_path / "pub"
    assert publish(customers, out)[0] == 0
    first = (out / "commitment.json").read_text()
    code, _, err = publish(customers, out)
    assert code == 2 and "--force" in err  # exists: refused without --force
    assert publish(customers, out, "--force")[0] == 0
    assert (out / "commitment.json").read_text() != first  # replaced: fresh nonces, a new root

    (out / "notes.txt").write_text("the exchange's own notes\n")
    code, _, err = publish(customers, out, "--force")
    assert code == 2
    one_line(err, "notes.txt", "only a folder `por publish` wrote")
    assert (out / "notes.txt").read_text() == "the exchange's own notes\n"

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "commitment.json").write_text('{"not": "a commitment"}')
    code, _, err = publish(customers, mine, "--force")
    assert code == 2 and "not a por commitment" in err and (mine / "commitment.json").exists()

    inside = tmp_path / "inside"
    inside.mkdir()
    (inside / "customers.csv").write_bytes(customers.read_bytes())
    code, _, err = publish(inside / "customers.csv", inside, "--force")
    assert code == 2 and (inside / "customers.csv").read_bytes() == customers.read_bytes()

    (out / "notes.txt").unlink()
    code, _, err = publish(customers, out, "--force", "--previous", out)
    assert code == 2 and "--previous" in err and (out / "commitment.json").exists()


def test_a_failed_swap_puts_the_old_publication_back(book, tmp_path, monkeypatch):
    """The rename of the new folder into place fails (a mock at that boundary): the old one is back."""
    import por.atomic
    from por.liabilities.ingest import load_customers
    from por.liabilities.publish import publish as do_publish

    folder, customers, _ = book
    out = tmp_path / "pub"
    book_ = load_customers(customers)
    do_publish(book_, out, exchange="E", snapshot_id="s1")
    before = (out / "commitment.json").read_bytes()
    real_replace = os.replace

    def failing_replace(src, dst):
        if ".partial-" in str(src):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(por.atomic.os, "replace", failing_replace)
    with pytest.raises(OSError):
        do_publish(book_, out, exchange="E", snapshot_id="s2", force=True)
    monkeypatch.undo()
    assert (out / "commitment.json").read_bytes() == before
    assert entries(tmp_path) == ["pub"]


def test_what_a_killed_run_left_is_cleaned_up_or_put_back(book, tmp_path):
    folder, customers, pub = book
    out = tmp_path / "pub"
    assert publish(customers, out)[0] == 0
    before = (out / "commitment.json").read_text()
    # killed between moving the old publication aside and renaming the new one in
    aside = tmp_path / ".pub.old-abcd1234"
    aside.mkdir()
    os.replace(out, aside / "x")
    # and a staging folder holding secrets from a run killed earlier
    staging = tmp_path / ".pub.partial-zz99yy88"
    (staging / "private").mkdir(parents=True)
    (staging / "private" / "secrets.jsonl").write_text("{}\n")
    code, _, err = publish(customers, out)
    assert code == 2 and "not empty" in err  # the old publication is back: refused
    assert (out / "commitment.json").read_text() == before
    assert entries(tmp_path) == ["pub"]


def test_demo_refuses_a_folder_that_is_not_a_demo_output(tmp_path):
    from fixtures.demo import MARKER, not_demo_output

    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work\n")
    code, out, err = run_por_process("demo", "--out", home, "--accounts", "5")
    assert code == 2
    one_line(err, "not an earlier demo's output", "thesis.tex")
    assert entries(home) == ["thesis.tex"]
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    code, _, err = run_por_process("demo", "-o", a_file)
    assert code == 2 and a_file.read_text() == "x"
    demo = tmp_path / "demo"
    demo.mkdir()
    for name in (MARKER, "customers.csv", "history.html", "audit-jp-fsa.json", "proof-user-0000001.json"):
        (demo / name).write_text("")
    (demo / "publication").mkdir()
    assert not_demo_output(demo) == ""
    (demo / "customers.csv.bak").write_text("")
    assert "customers.csv.bak" in not_demo_output(demo)
    (demo / "customers.csv.bak").unlink()
    (demo / MARKER).unlink()
    assert MARKER in not_demo_output(demo)
