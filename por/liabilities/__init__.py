"""Liabilities: the book, the sum tree and its files, inclusion proofs, foreign formats (`foreign`)."""

__all__ = [
    "book",
    "build",
    "check",
    "distributed",
    "foreign",
    "inclusion",
    "ingest",
    "levels",
    "porjson",
    "prove",
    "publish",
    "rows",
    "secrets",
    "tree",
    "treefile",
]
