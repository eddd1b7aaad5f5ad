"""The customer's piped `verify-inclusion` without rich, typer or eth-account (issue 18 item 5).

Piped output goes through por.cli.plain, which must print exactly what rich would have printed:
held equal here on generated markup (our tags around escaped untrusted text), and through the
real command, whose piped and forced-terminal outputs must agree once rich's colours are gone.
The modules the command loads are read from the process itself, so a heavy import creeping back
onto the path fails here, not in a benchmark nobody reads.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fixtures.liabilities import run_por
from fixtures.sample import write_customers
from por.cli.plain import PlainConsole, ansi_text, is_plain, plain_text
from por.text import markup_escape, terminal_text

KEY = "3c" * 32
TAGS = ["[bold green]", "[bold red]", "[yellow]", "[red]", "[bold]", "[bold yellow]", None]  # None: no tag
# untrusted text the way it reaches a console: brackets, backslashes, tag look-alikes, any script
UNTRUSTED = st.text(alphabet=st.sampled_from(list("ab [ ] \\ / # @ = x 1 _ é 中 :warning:")), max_size=30)
HEAVY = (
    "rich",
    "typer",
    "click",
    "pydantic",
    "numpy",
    "pyarrow",
    "eth_account",
    "eth_utils",
    "Crypto",
    "web3",
    "asyncio",
)
# rich's cell widths (a table of its own, ~1 ms) fold tables exactly as rich would; the rest of rich stays out
ALLOWED = {"rich", "rich._extension", "rich.cells"}
ALLOWED_UNDER = ("rich._unicode_data", "rich._cell_widths")


@settings(max_examples=400, deadline=None)
@given(UNTRUSTED)
def test_markup_escape_is_riches(text):
    from rich.markup import escape

    assert markup_escape(text) == escape(text)


def _rich_or_none(render):
    """What rich renders, skipping the inputs rich itself cannot render: its escape leaves three
    trailing backslashes as they are, so they escape the closing tag after them (MarkupError).
    Ours prints those instead of failing; everything rich can render must be equal."""
    from rich.errors import MarkupError

    try:
        return render()
    except MarkupError:
        assume(False)


def _markup(parts: list[tuple[int, str]]) -> str:
    """Escaped untrusted text, each piece bare or inside one of our tags, as the commands build it:
    text between two tags is escaped as one (escaped apart, `[@` and `]` would meet as a tag)."""
    pieces: list[tuple[str | None, str]] = []
    for tag, text in parts:
        if TAGS[tag] is None and pieces and pieces[-1][0] is None:
            pieces[-1] = (None, pieces[-1][1] + text)
        else:
            pieces.append((TAGS[tag], text))
    return "".join(terminal_text(text) if tag is None else f"{tag}{terminal_text(text)}[/]" for tag, text in pieces)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(TAGS) - 1), UNTRUSTED), max_size=6))
def test_plain_text_is_what_rich_shows(parts):
    from rich.text import Text

    markup = _markup(parts)
    assert plain_text(markup) == _rich_or_none(lambda: Text.from_markup(markup, emoji=False).plain)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(TAGS) - 1), UNTRUSTED), max_size=6))
def test_ansi_text_is_what_rich_writes_to_a_colour_terminal(parts):
    from rich.console import Console

    markup = _markup(parts)
    theirs = io.StringIO()
    Console(
        file=theirs, force_terminal=True, color_system="standard", highlight=False, soft_wrap=True, emoji=False
    ).print(markup)
    assert ansi_text(markup) == theirs.getvalue()[:-1]


def test_a_style_it_does_not_know_is_left_to_rich():
    assert ansi_text("[blink]x[/]") is None and ansi_text("[/]") is None
    assert ansi_text("[bold]x[/]") == "\x1b[1mx\x1b[0m"


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(TAGS[:-1]), UNTRUSTED, UNTRUSTED)
def test_the_plain_console_writes_what_richs_writes_to_a_pipe(tag, first, second):
    from rich.console import Console

    line = f"{tag}VERIFIED[/] {terminal_text(first)}  {terminal_text(second)}"
    theirs = io.StringIO()
    _rich_or_none(lambda: Console(file=theirs, highlight=False, soft_wrap=True, emoji=False).print(line))
    ours = io.StringIO()
    console = PlainConsole()  # made before sys.stdout is swapped: it must look the stream up at print
    saved, sys.stdout = sys.stdout, ours
    try:
        console.print(line)
    finally:
        sys.stdout = saved
    assert ours.getvalue() == theirs.getvalue()


def test_a_forced_terminal_is_not_plain(monkeypatch):
    stream = io.StringIO()
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.delenv("TTY_INTERACTIVE", raising=False)
    assert is_plain(stream)
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert not is_plain(stream)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from eth_account import Account

    root = tmp_path_factory.mktemp("plain")
    (root / "key.hex").write_text(KEY + "\n")
    customers = write_customers(root / "c.csv", 40, seed=8)
    code, _, err = run_por(
        "publish", customers, "--exchange", "Ex", "-o", root / "pub", "-q", "--sign-key", root / "key.hex"
    )
    assert code == 0, err
    proof = root / "proof [bold] \\[x].json"  # the file name is in the title: markup a console must not read
    assert run_por("prove", root / "pub", "user-0000007", "-o", proof, "-q")[0] == 0
    doc = json.loads(proof.read_text())
    return {
        "root": root,
        "proof": proof,
        "hash": doc["root"]["hash"],
        "address": Account.from_key(bytes.fromhex(KEY)).address,
    }


def _lines(w) -> list[list[str]]:
    proof, commitment = str(w["proof"]), str(w["root"] / "pub" / "commitment.json")
    return [
        [proof, "--commitment", commitment],
        [proof, "--commitment", commitment, "--signer", w["address"]],
        [proof, "--commitment", commitment, "--signer", "0x" + "22" * 20],
        [proof, "--root", w["hash"]],
        [proof, "--root", "ab" * 32],
        [proof],
    ]


def _por(args: list[str], *, tty: bool = False, **env: str) -> subprocess.CompletedProcess:
    """`por verify-inclusion ARGS` in a fresh interpreter that writes the modules it loaded to stderr's end."""
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write('\\nMODULES ' + ' '.join(sorted(sys.modules)) + '\\n'))\n"
        "sys.argv = ['por', 'verify-inclusion', *sys.argv[1:]]\n"
        "from por.cli import main\n"
        "main()\n"
    )
    environ = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS", "NO_COLOR")}
    command = [sys.executable, "-c", probe, *args]
    if not tty:
        return subprocess.run(command, capture_output=True, text=True, env={**environ, **env}, timeout=120)
    leader, follower = os.openpty()  # stdout a terminal, 200 columns wide; stderr stays a pipe
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    try:
        done = subprocess.run(
            command, stdout=follower, stderr=subprocess.PIPE, text=True, env={**environ, **env}, timeout=120
        )
        os.close(follower)
        shown = b""
        while chunk := _read(leader):
            shown += chunk
    finally:
        os.close(leader)
    return subprocess.CompletedProcess(command, done.returncode, shown.decode().replace("\r\n", "\n"), done.stderr)


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # EIO: the terminal's other end is closed and drained
        return b""


@pytest.mark.parametrize("case", range(6))
def test_the_piped_customer_path_loads_no_heavy_module(world, case):
    done = _por(_lines(world)[case])
    assert done.returncode in (0, 1), done.stderr
    loaded = set(done.stderr.rsplit("MODULES ", 1)[1].split())
    heavy = sorted(
        m for m in loaded if m.split(".")[0] in HEAVY and m not in ALLOWED and not m.startswith(ALLOWED_UNDER)
    )
    assert heavy == [], f"the customer's piped verify-inclusion imported {heavy[:8]}"


@pytest.mark.parametrize("case", range(6))
def test_piped_output_equals_richs_output_without_its_colours(world, case):
    """The same command with rich forced on (FORCE_COLOR): once its escape codes are removed, the
    text is the plain console's, byte for byte, and the exit code is the same."""
    piped = _por(_lines(world)[case])
    forced = _por(_lines(world)[case], FORCE_COLOR="1")
    assert "rich" in forced.stderr.rsplit("MODULES ", 1)[1].split()
    assert forced.returncode == piped.returncode
    assert re.sub(r"\x1b\[[0-9;]*m", "", forced.stdout) == piped.stdout
    assert "\x1b[" in forced.stdout or piped.stdout == ""


@pytest.mark.parametrize("case", range(6))
def test_on_a_terminal_the_output_is_richs_byte_for_byte_without_rich(world, case):
    """On a colour terminal (TERM=xterm), the plain console's bytes, colours included, are rich's
    (FORCE_COLOR makes por use rich), and rich's console is not loaded."""
    ours = _por(_lines(world)[case], tty=True, TERM="xterm")
    theirs = _por(_lines(world)[case], tty=True, TERM="xterm", FORCE_COLOR="1")
    assert "rich.console" not in ours.stderr.rsplit("MODULES ", 1)[1].split()
    assert "rich.console" in theirs.stderr.rsplit("MODULES ", 1)[1].split()
    assert ours.returncode == theirs.returncode
    assert ours.stdout == theirs.stdout and "\x1b[1;" in ours.stdout


def test_no_color_and_a_dumb_terminal_are_left_to_rich(world):
    for env in ({"TERM": "dumb"}, {"TERM": "xterm", "NO_COLOR": "1"}, {"TERM": "xterm", "FORCE_COLOR": ""}):
        done = _por(_lines(world)[0], tty=True, **env)
        assert "rich.console" in done.stderr.rsplit("MODULES ", 1)[1].split(), env
        assert "\x1b[1;32m" not in done.stdout, env


def test_the_signer_is_recovered_as_eth_account_recovers_it(world):
    """The --signer path recovers with coincurve and por.keccak (chains.eip191): equal to eth-account's answer
    for genuine, bit-flipped and wrong-v signatures."""
    from eth_account import Account
    from eth_account.messages import encode_defunct

    from chains.eip191 import recover_text_signer

    rng = __import__("random").Random(3)
    for n in range(120):
        key = rng.randbytes(32)
        digest = rng.randbytes(32).hex()
        sig = bytearray(Account.sign_message(encode_defunct(text=digest), private_key=key).signature)
        if n % 3:
            sig[rng.randrange(65)] ^= 1 << rng.randrange(8)
        try:
            want = Account.recover_message(encode_defunct(text=digest), signature=bytes(sig)).lower()
        except Exception:
            want = None
        if sig[64] not in (27, 28):
            want = None
        assert recover_text_signer(digest, bytes(sig)) == want, (n, bytes(sig).hex())


def test_a_broken_pipe_ends_quietly_with_141(world):
    proof, commitment = world["proof"], world["root"] / "pub" / "commitment.json"
    command = f"'{sys.executable}' -m por verify-inclusion '{proof}' --commitment '{commitment}' | head -c 1"
    for _ in range(3):  # the reader may close before or after the first write: both must end quietly
        done = subprocess.run(
            ["bash", "-c", command + "; echo rc=${PIPESTATUS[0]}"], capture_output=True, text=True, timeout=60
        )
        assert done.stdout.endswith("rc=141\n") or done.stdout.endswith("rc=0\n"), done.stdout
        assert done.stderr == "", done.stderr


def test_keccak_equals_pycryptodome_across_block_boundaries():
    from Crypto.Hash import keccak

    from por.keccak import keccak_256

    rng = __import__("random").Random(9)
    for size in [*range(0, 300), 543, 544, 545, 4096]:
        data = rng.randbytes(size)
        assert keccak_256(data) == keccak.new(digest_bits=256, data=data).digest(), size
    assert keccak_256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"


def test_checksums_equal_eth_utils():
    from eth_utils import to_checksum_address

    from por.signing import checksum_address

    rng = __import__("random").Random(4)
    for _ in range(200):
        body = rng.randbytes(20).hex()
        assert checksum_address(body) == to_checksum_address("0x" + body)


def test_the_probe_sees_what_the_command_printed(world):
    done = _por(_lines(world)[0])
    assert done.stdout.startswith("VERIFIED inclusion of ")
    assert Path(_lines(world)[0][0]).name in done.stdout  # brackets and backslash shown as written
