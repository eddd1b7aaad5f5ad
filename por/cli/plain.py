"""Console output without rich, for the customer's start-up: what `rich.console.Console.print`
writes, for a fraction of its import.

A customer's `por verify-inclusion` spent about a third of its run importing rich to print a
few lines (issue 18). Two cases cover a customer: a stream that is not a terminal (no colour,
markup tags dropped, escaped ones shown) and an ordinary colour terminal (the few SGR codes
our styles need: bold, dim, the eight colours and their bright forms). Anything else (NO_COLOR,
a dumb terminal, a style word we do not know, progress bars) is rich's, unchanged.
tests/test_plain_output.py holds both outputs equal to rich's on generated markup.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

from por.text import MARKUP_TAG

# What changes rich's mind about a stream (rich.console.Console.is_terminal): present at all, even
# empty (FORCE_COLOR="" makes a tty plain, TTY_COMPATIBLE=0 too), rich decides, not this module.
_FORCING = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def _pieces(markup: str) -> Iterator[tuple[str, list[str] | None]]:
    """rich's reading of `markup` (rich.markup._parse and render), in order: (text it shows, None),
    and ("", the tag's words) for each tag it obeys. Of the backslashes before a tag half are shown,
    and an odd one makes the tag shown as text; `\\[` between tags is shown as `[`."""
    position = 0
    for match in MARKUP_TAG.finditer(markup):
        yield _unbrace(markup[position : match.start()]), None
        backslashes, escaped = divmod(len(match.group(1)), 2)
        yield "\\" * backslashes, None
        if escaped:
            yield _unbrace(match.group(2)), None
        else:
            yield "", match.group(3).split()
        position = match.end()
    yield _unbrace(markup[position:]), None


def plain_text(markup: str) -> str:
    """The text rich shows for `markup`: its tags dropped."""
    if "[" not in markup:
        return markup
    return "".join(text for text, _ in _pieces(markup))


def _unbrace(text: str) -> str:
    """rich shows `\\[` as `[` in text between tags even where no tag follows (rich.markup.render)."""
    return text.replace("\\[", "[")


def is_plain(stream: Any) -> bool:
    """True when rich would write `stream` without colour or cursor movement: not a terminal and
    not forced to act as one."""
    return not _isatty(stream) and not any(name in os.environ for name in _FORCING)


def is_plain_terminal(stream: Any) -> bool:
    """True for a terminal rich would colour with the standard SGR codes and nothing more."""
    term = os.environ.get("TERM", "").strip().lower()
    quiet_env = not any(name in os.environ for name in (*_FORCING, "NO_COLOR"))
    return _isatty(stream) and quiet_env and term not in ("dumb", "unknown")


def _isatty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


# rich.style.Style's SGR numbers for the attributes and named colours our markup uses
_ATTRIBUTES = {"bold": 1, "dim": 2, "italic": 3, "underline": 4, "reverse": 7, "strike": 9}
_NAMES = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
_COLOURS = {**{n: 30 + i for i, n in enumerate(_NAMES)}, **{f"bright_{n}": 90 + i for i, n in enumerate(_NAMES)}}


def ansi_text(markup: str) -> str | None:
    """`markup` with its tags as rich writes them to a colour terminal, or None when it holds a
    tag this does not know (rich then writes it). Text runs from tag to tag, as rich's spans do."""
    out: list[str] = []
    run: list[str] = []
    stack: list[list[str]] = []
    for text, words in _pieces(markup):
        if words is None:
            run.append(text)
            continue
        if words == ["/"] and not stack:
            return None
        if words != ["/"] and not (words and all(w in _ATTRIBUTES or w in _COLOURS for w in words)):
            return None
        out.append(_styled("".join(run), stack))
        run = []
        if words == ["/"]:
            stack.pop()
        else:
            stack.append(words)
    out.append(_styled("".join(run), stack))
    return "".join(out)


def _styled(text: str, stack: list[list[str]]) -> str:
    if not text or not stack:
        return text
    words = [word for tag in stack for word in tag]
    attributes = sorted({_ATTRIBUTES[w] for w in words if w in _ATTRIBUTES})
    colours = [_COLOURS[w] for w in words if w in _COLOURS]
    codes = [*attributes, *colours[-1:]]
    return f"\x1b[{';'.join(map(str, codes))}m{text}\x1b[0m"


class PlainConsole:
    """The part of rich's Console the commands print through, for a pipe (`colour=False`) or a plain
    colour terminal. The stream is looked up at each print, as rich does, so tests that swap
    sys.stdout see it."""

    def __init__(self, *, stderr: bool = False, colour: bool = False) -> None:
        self.stderr = stderr
        self.is_terminal = colour
        self._rich: Any = None

    @property
    def file(self) -> Any:
        return sys.stderr if self.stderr else sys.stdout

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", markup: bool = True) -> None:
        text = sep.join(str(o) for o in objects)
        if markup:
            shown = ansi_text(text) if self.is_terminal else plain_text(text)
            if shown is None:  # a style this does not know: rich draws it
                return self._rich_console().print(*objects, sep=sep, end=end)
            text = shown
        stream = self.file
        stream.write(text + end)
        stream.flush()  # as rich does: stdout and stderr to one file stay in order

    def _rich_console(self) -> Any:
        if self._rich is None:
            self._rich = rich_console(stderr=self.stderr)
        return self._rich


def rich_console(*, stderr: bool = False) -> Any:
    """rich's Console as every command sets it up: no highlighting (amounts and hashes are shown as
    they are), no wrapping by rich (tables fold themselves, on whole words), and no emoji codes (a
    file name or account id with `:warning:` in it is shown as written, not as a symbol)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True, emoji=False)
