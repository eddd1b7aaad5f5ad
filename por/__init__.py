"""por: publish and verify proofs of reserves and liabilities for crypto exchanges.

Four wings over a small core (docs/architecture.md): `liabilities`, `reserves`, `audit`,
`publication`; `cli` on top. `__version__` is the installed distribution's, which is
pyproject.toml's `version` (read from the source tree when por is not installed).
"""

from __future__ import annotations


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("por")
    except PackageNotFoundError:           # a source tree on sys.path, not installed
        import tomllib
        from pathlib import Path

        try:
            text = (Path(__file__).resolve().parent.parent / "pyproject.toml").read_text(encoding="utf-8")
            return str(tomllib.loads(text)["project"]["version"])
        except (OSError, KeyError, ValueError):
            return "0+unknown"


def __getattr__(name: str) -> str:
    """`por.__version__`, looked up on first use: importlib.metadata costs start-up time."""
    if name == "__version__":
        globals()["__version__"] = version = _version()
        return version
    raise AttributeError(f"module 'por' has no attribute {name!r}")

__all__ = ["__version__", "amounts", "atomic", "audit", "cli", "errors", "liabilities", "publication", "reserves",
           "signing", "strictjson", "text", "verdict"]
