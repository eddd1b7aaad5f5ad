"""The public surface, locked: every package says what it exports (`__all__`), `por.__version__` is
pyproject's, and no test reaches a private (`_name`) of por or chains (use or add a public function).

Like httpx's tests/test_exported_members.py: a private name used by a test is a name that cannot be
renamed without breaking the suite, so it is public in all but name."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import tomllib
from pathlib import Path

import pytest

import chains
import por

ROOT = Path(__file__).resolve().parents[1]
OURS = ("por", "chains")
SCANNED = ("tests", "fixtures", "benchmarks")  # everything that drives por from outside
WITHOUT_ALL = {"por.cli"}  # the command: its surface is `main`; its owner adds __all__
PRIVATE_PATH = re.compile(r"\A(?:por|chains)(?:\.\w+)*\._[a-z]\w*")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(source: str) -> list[tuple[int, str]]:
    """(line, what) for each use of a private name of por/chains in `source`."""
    tree, found, bound = ast.parse(source), [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in OURS:
                    if any(_private(p) for p in alias.name.split(".")):
                        found.append((node.lineno, alias.name))
                    bound.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in OURS:
            if any(_private(p) for p in node.module.split(".")):
                found.append((node.lineno, node.module))
            for alias in node.names:
                if _private(alias.name):
                    found.append((node.lineno, f"{node.module}.{alias.name}"))
                bound.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in bound
        ):
            found.append((node.lineno, f"{node.value.id}.{node.attr}"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and PRIVATE_PATH.match(node.value):
            found.append((node.lineno, node.value))  # monkeypatch.setattr("por.x._y", ...)
    return sorted(set(found))


def test_the_scanner_sees_every_way_in():
    sample = (
        "from por.liabilities.check import _guarded\nimport chains._http\nfrom chains import _http as h\n"
        "from por.liabilities import ingest\ningest._is_plain_csv(p)\nm.setattr('por.text._limit', 1)\n"
        "from por import __version__\nfrom other import _fine\n"
    )
    assert [what for _, what in private_uses(sample)] == [
        "por.liabilities.check._guarded",
        "chains._http",
        "chains._http",
        "ingest._is_plain_csv",
        "por.text._limit",
    ]


@pytest.mark.parametrize("folder", SCANNED)
def test_nothing_outside_por_imports_a_private_name(folder):
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        if "node_modules" not in path.parts and path != Path(__file__).resolve()  # its samples
        for line, what in private_uses(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "private names used from outside (make them public):\n" + "\n".join(offenders)


def packages():
    for root in (por, chains):
        yield root.__name__
        for info in pkgutil.walk_packages(root.__path__, root.__name__ + "."):
            if info.ispkg:
                yield info.name


@pytest.mark.parametrize("name", sorted(set(packages()) - WITHOUT_ALL))
def test_every_package_declares_what_it_exports(name):
    package = importlib.import_module(name)
    exported = getattr(package, "__all__", None)
    assert isinstance(exported, list) and exported, f"{name} has no __all__"
    assert len(exported) == len(set(exported)), f"{name}.__all__ repeats a name"
    assert not [n for n in exported if _private(n)], f"{name}.__all__ exports a private name"
    for export in exported:
        if not hasattr(package, export):
            importlib.import_module(f"{name}.{export}")  # a submodule: must exist


def test_version_is_pyprojects():
    """One place: pyproject reads the version from por.__version__, and the installed metadata agrees."""
    from importlib.metadata import version

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["project"]["dynamic"] == ["version"]
    assert config["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "por.__version__"}
    assert version("por") == por.__version__
    assert "__version__" in por.__all__
