"""por: publish and verify proofs of reserves and liabilities for crypto exchanges.

Four wings over a small core (docs/architecture.md): `liabilities`, `reserves`, `audit`,
`publication`; `cli` on top. `__version__` is the one place the version is written:
pyproject.toml reads it from here (`[tool.setuptools.dynamic]`), and `por --version` prints it.
"""

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "amounts",
    "atomic",
    "audit",
    "cli",
    "errors",
    "liabilities",
    "publication",
    "reserves",
    "signing",
    "strictjson",
    "text",
    "verdict",
]
