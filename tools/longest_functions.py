"""Functions longer than a limit (60 lines unless told), longest first: a long function usually hides a named step.

    python3 tools/longest_functions.py                 # por/ and chains/
    python3 tools/longest_functions.py por/text.py     # files or folders
    python3 tools/longest_functions.py --limit 50 por/

A function's length is the lines from its `def` to its last line (a nested function counts in its
parent too, and is listed on its own when it is long itself); decorators are not counted. Prints
`path:line: name (N lines)`; exit 1 when any function is over the limit, 2 when a file does not parse.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATHS = ("por", "chains")
LIMIT = 60


@dataclass(frozen=True)
class LongFunction:
    path: str
    line: int
    name: str  # qualified: Class.method, outer.<locals>.inner
    lines: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.name} ({self.lines} lines)"


def functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Every function and method in the tree with its qualified name, outer ones first."""
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = prefix + node.name
            found.append((name, node))
            found.extend(functions(node, f"{name}.<locals>."))
        elif isinstance(node, ast.ClassDef):
            found.extend(functions(node, f"{prefix}{node.name}."))
        else:
            found.extend(functions(node, prefix))
    return found


def long_functions(path: Path, limit: int = LIMIT) -> list[LongFunction]:
    """The functions of one file longer than `limit` lines."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    out = []
    for name, node in functions(tree):
        length = (node.end_lineno or node.lineno) - node.lineno + 1
        if length > limit:
            out.append(LongFunction(str(shown), node.lineno, name, length))
    return out


def python_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        files.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="files or folders (default: por/ and chains/)")
    parser.add_argument("--limit", type=int, default=LIMIT, help=f"longest allowed, in lines (default {LIMIT})")
    args = parser.parse_args(argv)
    paths = [p if p.is_absolute() else Path.cwd() / p for p in args.paths] or [ROOT / p for p in DEFAULT_PATHS]
    found: list[LongFunction] = []
    for file in python_files(paths):
        try:
            found.extend(long_functions(file, args.limit))
        except (OSError, SyntaxError, UnicodeDecodeError) as exc:
            print(f"{file}: cannot read: {exc}", file=sys.stderr)
            return 2
    for item in sorted(found, key=lambda f: (-f.lines, f.path, f.line)):
        print(item)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
