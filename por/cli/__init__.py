"""The `por` command. Every failure ends as one line and an exit code:
0 verified, 1 verification failed (reasons printed), 2 bad input, 130/143 interrupted.

This module stays light: `main` installs the signal handlers before anything heavy is imported,
so Ctrl-C or SIGTERM at any moment, start-up included, ends as `por: interrupted`. The commands
live in one module per concern (por.cli.app gathers them) and import their heavy dependencies
inside the command, so `por verify-inclusion` starts fast.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE
# What signal.signal takes and gives back: a function, SIG_DFL / SIG_IGN, or None (set outside Python).
Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM: raised where the program is, so every clean-up on the way out runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class Signals:
    """The first signal raises Interrupted; one more while cleaning up is ignored, a third exits at once."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.count = 0
        self.raising = False
        self.previous: dict[int, Handler] = {}
        self.previous_hook = sys.unraisablehook

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(signum) is not signal.SIG_IGN:  # ignored by our parent (nohup, `&`): stays so
                self.previous[signum] = signal.signal(signum, self.handle)
        sys.unraisablehook = self.unraisable

    def restore(self) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        sys.unraisablehook = self.previous_hook

    def handle(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1
        if self.signum is None:
            self.signum = signum
        if self.count >= 3:
            _say("interrupted")
            os._exit(128 + self.signum)
        if self.raising:
            return
        self.raising = True
        raise Interrupted(signum)

    def unraisable(self, info: sys.UnraisableHookArgs) -> None:
        """Interrupted raised inside a __del__ or a callback is swallowed there: raise it again once
        this hook has returned. Raised from inside the hook (as it once was) the handler ran at once,
        here, and Python swallowed it a second time ("Exception ignored in sys.unraisablehook");
        a timer thread raises it 10 ms later, when the main thread is back in ordinary code."""
        if isinstance(info.exc_value, KeyboardInterrupt) and self.signum is not None:
            import threading

            self.raising = False
            self.count -= 1
            threading.Timer(0.01, signal.raise_signal, (self.signum,)).start()
            return
        self.previous_hook(info)


def main(argv: list[str] | None = None) -> None:
    signals = Signals()
    signals.install()
    code = 2
    try:
        try:
            code = _run(argv)
        except Interrupted:
            pass
        if signals.signum is not None:
            _say("interrupted")
            code = 128 + signals.signum
    except Interrupted:  # landed while the message above was printed
        code = 128 + (signals.signum or signal.SIGINT)
    finally:
        if argv is not None:  # called in-process (tests): put the handlers back
            signals.restore()
        else:  # the process is ending: nothing left to clean up
            for signum in signals.previous:
                signal.signal(signum, signal.SIG_IGN)
    sys.exit(code)


def _run(argv: list[str] | None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a file name that is not UTF-8 prints escaped, never crashes
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    try:
        return _dispatch(argv)
    except BrokenPipeError:
        # the reader went away (`por ... | head`): stop quietly, as other tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _dispatch(argv: list[str] | None) -> int:
    from por.cli import lean

    words = sys.argv[1:] if argv is None else argv
    lean_values = lean.parse(words)
    if lean_values is not None:  # the customer's command: no CLI framework to import
        return _run_command(lambda: lean.verify_inclusion(lean_values), argv)
    prove_values = lean.parse_prove(words)
    if prove_values is not None:  # one customer's proof, from the support desk
        return _run_command(lambda: lean.prove(prove_values), argv)
    return _run_command(lambda: _typer_run(argv), argv)


def _typer_run(argv: list[str] | None) -> int:
    from por.cli.app import run

    return run(argv)


def _run_command(command: Callable[[], Any], argv: list[str] | None) -> int:
    """Runs a command; every failure ends as one line and its exit code."""
    from por.errors import PorError, UsageError

    try:
        code = command()
    except PorError as exc:
        if isinstance(exc, UsageError):
            _say(f"usage: {exc} — try '{exc.command} --help'")
        else:
            for line in exc.lines() if hasattr(exc, "lines") else [str(exc)]:  # InputErrors: one line a row
                _say(f"error: {line}")
        return exc.exit_code
    except BrokenPipeError:  # the reader went away, not the input: `_run` ends quietly
        raise
    except OSError as exc:
        _say(f"error: {os_error_text(exc)}")
        return 2
    except Exception as exc:  # a bug: still one line, never a traceback, unless asked
        if _typer_error(exc, argv):
            return 2
        if os.environ.get("POR_DEBUG"):
            raise
        _say(f"internal error: {type(exc).__name__}: {str(exc)[:300]} (set POR_DEBUG=1 for details)")
        return 2
    return code if isinstance(code, int) else 0


def _typer_error(exc: Exception, argv: list[str] | None) -> bool:
    """typer's own copy of click's parse errors, and its Abort, said in one line (typer is
    loaded only when the full CLI ran: the lean path cannot raise these)."""
    typer = sys.modules.get("typer")
    if typer is None:
        return False
    if isinstance(exc, typer.TyperException):
        ctx = getattr(exc, "ctx", None)
        command = ctx.command_path if ctx is not None else _command_path(argv)
        if getattr(exc, "exit_code", 2) == 2:
            _say(f"usage: {_sentence(exc.format_message())} — try '{command} --help'")
        else:
            _say(f"error: {_sentence(exc.format_message())}")
        return True
    if isinstance(exc, typer.Abort):
        _say("aborted")
        return True
    return False


def _command_path(argv: list[str] | None) -> str:
    """`por CMD` for the first word of the command line that names a command, else `por`."""
    from por.cli.app import app

    names = {info.name for info in app.registered_commands}
    words = sys.argv[1:] if argv is None else argv
    return next((f"por {word}" for word in words if word in names), "por")


def _sentence(message: str) -> str:
    """Click's messages as one clause: 'Missing argument 'X'.' → "missing argument 'X'"."""
    text = " ".join(message.replace("Value error, ", "").split()).rstrip(".")
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        text = text[0].lower() + text[1:]
    return text


_OS_HINTS = {
    errno.ENOSPC: "the disk is full: free some space or write somewhere else",
    errno.EDQUOT: "your disk quota is used up: free some space or write somewhere else",
    errno.EACCES: "permission denied: check its permissions or choose another path",
    errno.EPERM: "not permitted: check its permissions or choose another path",
    errno.EROFS: "read-only file system: choose another path",
    errno.ENOENT: "no such file or folder: check the path",
    errno.ENOTDIR: "a part of the path is a file, not a folder: check the path",
    errno.EISDIR: "is a folder: give a file name",
    errno.ENAMETOOLONG: "the name is too long: choose a shorter one",
    errno.EMFILE: "too many open files: raise the limit (ulimit -n)",
    errno.ENFILE: "too many open files on this system: close some programs",
    errno.EIO: "the device reported an input/output error: check the disk",
    errno.EXDEV: "cannot move between file systems: keep the output on one file system",
    errno.ENOTEMPTY: "the folder is not empty",
    errno.EEXIST: "it already exists",
    errno.ELOOP: "too many symbolic links: check the path",
}


def os_error_text(exc: OSError) -> str:
    """One line naming the path, what happened and what to do."""
    hint = _OS_HINTS.get(exc.errno) if exc.errno is not None else None
    what = hint or (exc.strerror or type(exc).__name__).lower()
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    return f"{' → '.join(paths)}: {what}" if paths else what


def _say(message: str) -> None:
    """One line on stderr; input quoted in it (a header, an id) cannot move the cursor or hide."""
    from por.text import terminal_text

    message = " ".join(message.split())  # one line, always
    print(f"por: {terminal_text(message, markup=False)}", file=sys.stderr, flush=True)
