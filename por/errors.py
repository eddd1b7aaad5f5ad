"""Errors are values with reasons a user can act on.

Exit codes are the contract of every `por` command: 0 verified, 1 verification
failed, 2 bad input (or a provider that cannot be reached).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
MAX_REPORTED_ROWS = 20  # bad rows of one input named in one run; the rest are counted


class PorError(Exception):
    """Base of every error `por` reports to a user as one line."""

    exit_code = EXIT_BAD_INPUT


class InputError(PorError):
    """Input that cannot be used: names the place (file, line, field) and the reason."""

    exit_code = EXIT_BAD_INPUT

    def __init__(
        self, reason: str, *, file: str | None = None, line: int | None = None, field: str | None = None
    ) -> None:
        self.reason = reason
        self.file = file
        self.line = line
        self.field = field
        super().__init__(self.location_text())

    def location_text(self) -> str:
        place = ""
        if self.file is not None:
            place = str(self.file)
            if self.line is not None:
                place += f":{self.line}"
            place += ": "
        if self.field:
            place += f"{self.field}: "
        return place + self.reason

    def at(self, *, file: str | None = None, line: int | None = None, field: str | None = None) -> InputError:
        """The same error with the outer location filled in where it was missing."""
        return InputError(
            self.reason,
            file=self.file if self.file is not None else file,
            line=self.line if self.line is not None else line,
            field=self._join_field(field, self.field),
        )

    @staticmethod
    def _join_field(outer: str | None, inner: str | None) -> str | None:
        if outer and inner:
            return f"{outer}.{inner}" if not inner.startswith("[") else f"{outer}{inner}"
        return outer or inner


class InputErrors(InputError):
    """Several bad rows of one file, named in one run (each `file:line: field: reason`), so a
    user fixes them all at once; `total` counts the ones not named. Reads as its first error."""

    def __init__(self, errors: list[InputError], total: int) -> None:
        first = errors[0]
        super().__init__(first.reason, file=first.file, line=first.line, field=first.field)
        self.errors = list(errors)
        self.total = max(total, len(errors))

    def lines(self) -> list[str]:
        out = [error.location_text() for error in self.errors]
        if self.total > len(self.errors):
            out.append(f"and {self.total - len(self.errors)} more bad rows (fix these and run again)")
        return out


class BadRows:
    """The bad rows of one file as a reader meets them: the first MAX_REPORTED_ROWS kept, every one
    counted, so a reader goes on past a bad row and the user fixes them all in one run."""

    def __init__(self) -> None:
        self.errors: list[InputError] = []
        self.count = 0

    def add(self, error: InputError) -> None:
        self.count += 1
        if len(self.errors) < MAX_REPORTED_ROWS:
            self.errors.append(error)

    def raise_any(self) -> None:
        """One bad row raises its InputError; several, an InputErrors naming the first ones."""
        if self.count == 1:
            raise self.errors[0]
        if self.count:
            raise InputErrors(self.errors, self.count)


class UsageError(PorError):
    """A command line that does not say what to do: `por: usage: WHAT — try 'COMMAND --help'`."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, what: str, command: str = "por") -> None:
        super().__init__(what)
        self.command = command


class ProviderError(PorError):
    """A chain data provider failed hard: never a silent zero."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, provider: str, reason: str, *, address: str | None = None) -> None:
        self.provider = provider
        self.reason = reason
        self.address = address
        where = f" for {address}" if address else ""
        super().__init__(f"provider {provider}{where}: {reason}")
