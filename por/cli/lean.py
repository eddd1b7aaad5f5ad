"""The customer's command without the CLI framework: `por verify-inclusion PROOF [--root HEX |
--commitment FILE] [--signer ADDRESS] [--account ID] [--format auto|por] [--json] [--quiet]`;
and the exchange's answer to one customer, `por prove DIR ID... [--out FILE] [--quiet]`.

A customer runs this once, from a shell, and typer with pydantic and the whole command tree
took ~10 times the interpreter's own start-up before any proof was read (issue 18). So a
command line of exactly that shape is parsed here, by hand, and checked by the same library
functions in the same order as `por.cli.liabilities.verify_inclusion`; any other word (help,
another option, a repeated or missing value, `--`) returns None and the full CLI parses the
line, so help and usage errors are typer's, unchanged. tests/test_lean_cli.py runs both paths
over the same command lines and compares code, stdout and stderr.
"""

from __future__ import annotations

import os
from pathlib import Path

VALUED = {"--commitment", "--root", "--signer", "--account", "--format"}
FLAGS = {"--json": "json", "-j": "json", "--quiet": "quiet", "-q": "quiet"}
FORMATS = ("auto", "por")  # the others may need --tree, --config...: the full CLI


def _lean_command(argv: list[str], command: str) -> bool:
    """The line runs `command`, and not for shell completion (which only the full CLI answers)."""
    return bool(argv) and argv[0] == command and not any(k.startswith("_POR_COMPLETE") for k in os.environ)


def parse(argv: list[str]) -> dict | None:
    """The options of a lean `verify-inclusion` command line, or None: let the full CLI parse it."""
    if not _lean_command(argv, "verify-inclusion"):
        return None
    values: dict = {"json": False, "quiet": False}
    proofs = []
    words = iter(argv[1:])
    for word in words:
        name, eq, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if name in FLAGS and not eq:
            values[FLAGS[name]] = True
        elif name in VALUED:
            given = value if eq else next(words, None)
            if not given or name in values or given.startswith("-"):
                return None
            values[name] = given
        elif word == "-" or (word and not word.startswith("-")):
            proofs.append(word)
        else:
            return None
    if len(proofs) != 1 or values.get("--format", "auto") not in FORMATS:
        return None
    values["proof"] = proofs[0]
    return values


def verify_inclusion(values: dict) -> int:
    """One por (or auto-detected) proof against a pinned root or commitment: the steps of
    `por.cli.liabilities.verify_inclusion` for one proof and no tree, totals or config."""
    from por.cli.output import emit_verdict
    from por.errors import InputError
    from por.liabilities.check import pinned_account, read_document, verify_proof_document
    from por.liabilities.foreign import detect
    from por.liabilities.foreign.common import Customer
    from por.liabilities.pins import pinned_reference

    proof = Path(values["proof"])
    commitment = Path(values["--commitment"]) if "--commitment" in values else None
    account = pinned_account(values.get("--account"))
    customer = Customer(account=account, nonce=None, balances=())
    signer = values.get("--signer")
    if signer and commitment is None:  # as por.cli.history.pinned_signer
        raise InputError(
            "nothing to check the key against: the signature is inside commitment.json, give --commitment",
            field="--signer",
        )
    if signer:
        from por.signing import normalise_address

        signer = normalise_address(signer)
    raw = read_document(proof)
    pinned, root_bytes, doc = pinned_reference(commitment, values.get("--root"))
    kind = values.get("--format", "auto")
    kind = kind if kind != "auto" else detect.proof_format(raw, str(proof))
    verdict = verify_proof_document(kind, raw, proof, pinned, root_bytes, None, None, customer, None)
    finish_inclusion(verdict, kind, account, commitment, doc, signer)
    return emit_verdict(verdict, as_json=values["json"], title=f"inclusion of {proof}", quiet=values["quiet"])


def finish_inclusion(verdict, kind: str, account, commitment, doc, signer, chains_toml=None) -> None:
    """After the proof's own checks, the same steps on both paths (this one and typer's `_verify_one`):
    the account, the commitment's signature, the anchor, and what to pin when nothing anchors it."""
    from por.liabilities.check import check_account
    from por.publication.verify import signature_facts

    if kind == "por":  # a foreign format checks --account itself, or refuses it
        check_account(verdict, account, kind)
    signature_facts(verdict, commitment, signer, doc=doc)
    if chains_toml is not None:
        from por.cli.anchor import verify_anchor

        verify_anchor(verdict, commitment, doc, chains_toml, signer)
    elif "anchor_claimed" in verdict.facts:  # named, never counted
        from por.liabilities.pins import judge_carried_anchor
        from por.signing import digest_hex

        judge_carried_anchor(verdict, digest_hex(doc) if doc is not None else None)
    if verdict.anchor is None:
        verdict.facts.setdefault("notes", []).append(
            "pin what the exchange published, from a source you trust: --commitment commitment.json"
            + (" (or --root HEX)" if kind == "por" and verdict.facts.get("version", 2) >= 2 else "")
        )


def parse_prove(argv: list[str]) -> dict | None:
    """`prove DIR ID... [-o/--out FILE] [-q/--quiet]`, or None: the full CLI parses the line.

    An exchange's support desk answers one customer at a time: at 10M accounts the index finds
    the line in a millisecond, and the framework's import was the rest of the command's time."""
    if not _lean_command(argv, "prove"):
        return None
    values: dict = {"quiet": False, "out": None}
    words, positional = iter(argv[1:]), []
    for word in words:
        name, eq, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if name in ("-q", "--quiet") and not eq:
            values["quiet"] = True
        elif name in ("-o", "--out") and (eq or name == word):
            given = value if eq else next(words, None)
            if not given or values["out"] is not None or (given.startswith("-") and given != "-"):
                return None
            values["out"] = given
        elif word and not word.startswith("-"):
            positional.append(word)
        else:
            return None
    if len(positional) < 2:
        return None
    values["folder"], values["ids"] = Path(positional[0]), positional[1:]
    return values


def prove(values: dict) -> int:
    return prove_accounts(values["folder"], values["ids"], values["out"], values["quiet"])


def prove_accounts(folder: Path, ids: list[str], out: str | None, quiet: bool) -> int:
    """`por prove DIR ID...` (not --all), on both paths: one id, a JSON document; several, a
    compact proof per line; to `out` (atomically), or to stdout when it is None or "-"."""
    import json

    from por.atomic import check_output_file, write_text
    from por.liabilities.porjson import dumps
    from por.liabilities.prove import cut_proof
    from por.text import terminal_text

    target = Path(out) if out and out != "-" else None  # printed as the full CLI's Path prints it
    if target is not None:
        check_output_file(target)
    if len(ids) == 1:
        text = dumps(cut_proof(folder, ids[0]).to_json())
    else:
        text = "".join(
            json.dumps(cut_proof(folder, a).to_json(), separators=(",", ":"), ensure_ascii=False) + "\n" for a in ids
        )
    if target is not None:
        write_text(target, text)
        if not quiet:
            who = terminal_text(repr(ids[0]) if len(ids) == 1 else f"{len(ids)} accounts", markup=False)
            print(f"wrote inclusion proof{'s' if len(ids) > 1 else ''} for {who} to {target}")
    else:
        print(text, end="")
    return 0
