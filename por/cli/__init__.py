"""The `por` command. Every failure ends as one line and an exit code:
0 verified, 1 verification failed (reasons printed), 2 bad input.

Subcommands live in one module per concern and import their heavy
dependencies inside the command, so `por verify-inclusion` starts fast.
"""

from __future__ import annotations

import os
import sys

import click
import typer

from por.cli import audit, demo, history, liabilities, reserves

app = typer.Typer(
    name="por",
    help="Proof of reserves: publish and verify liabilities commitments, read reserves at a snapshot, audit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for _group in (liabilities, reserves, audit, history, demo):
    _group.register(app)


def main(argv: list[str] | None = None) -> None:
    from por.errors import PorError

    try:
        code = app(args=argv, standalone_mode=False)
    except PorError as exc:
        _say(f"error: {exc}")
        code = exc.exit_code
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "", err=True)
        code = 2
    except click.UsageError as exc:
        _say(f"usage error: {exc.format_message()}")
        code = 2
    except click.ClickException as exc:
        _say(f"error: {exc.format_message()}")
        code = 2
    except (click.Abort, KeyboardInterrupt):
        _say("interrupted")
        code = 130
    except Exception as exc:  # a bug: still one line, never a traceback, unless asked
        if os.environ.get("POR_DEBUG"):
            raise
        _say(f"internal error: {type(exc).__name__}: {str(exc)[:300]} (set POR_DEBUG=1 for details)")
        code = 2
    sys.exit(code if isinstance(code, int) else 0)


def _say(message: str) -> None:
    """One line on stderr; input quoted in it (a header, an id) cannot move the cursor or hide."""
    from por.text import terminal_text

    message = " ".join(message.split())   # one line, always
    print(f"por: {terminal_text(message, markup=False)}", file=sys.stderr)
