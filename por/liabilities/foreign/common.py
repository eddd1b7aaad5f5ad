"""What every foreign format shares: exact numbers, strict JSON, the pinned root, and one
vocabulary for what a verdict verified and what it did not.

Each exchange's verifier checks less than it should, and each says so in its own
words. Here every foreign verdict carries the same `coverage` facts (`describe`), so
a customer of five exchanges reads five verdicts the same way, and the shared
fail-closed rule (`anchored`) reads one field whatever the format:

- leaf: recomputed from the customer's data, or from an id hash the customer cannot check;
- path: every parent up to the root recomputed;
- sums: how the hashes bind the amounts (each child's sums, parent totals only, only in a
  zk proof, or a plain tree with none);
- non-negativity: checked, and where it fails;
- root: pinned by the user, or taken from the file;
- zk proof: not applicable, or not checked (and why);
- hash: the stored width and what a collision costs.
"""

from __future__ import annotations

import hashlib
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Context, Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from por.errors import InputError
from por.strictjson import unique_keys
from por.verdict import RootBinding, Verdict

if TYPE_CHECKING:
    from por.liabilities.pins import Pins

__all__ = [
    "Design",
    "Customer",
    "EXACT",
    "read_json",
    "sha256_hex",
    "decimal_of",
    "plain",
    "java_string",
    "strip_zeros",
    "scale_down",
    "pinned_root",
    "compare_root",
    "describe",
    "check_customer",
    "Pinned",
    "pinned_of",
    "compare_totals",
    "root_binding",
    "SUMS_EACH_CHILD",
    "SUMS_PARENT_ONLY",
    "SUMS_IN_ZK_PROOF",
    "SUMS_NONE",
    "ProofOnlyFormat",
]

# Every sum exact: 28 digits (Python's default) would round a 30-digit balance.
EXACT = Context(prec=400, Emax=10**6, Emin=-(10**6), rounding=ROUND_DOWN, traps=[InvalidOperation])
MAX_DIGITS = 100  # a balance with more digits (or a larger exponent) is no balance: refused
MAX_JSON_BYTES = 64 * 1024 * 1024

SUMS_EACH_CHILD = "each parent hash binds both children's sums (a sibling cannot shift amounts)"
SUMS_PARENT_ONLY = (
    "each parent hash binds only its own total, not each child's sums (the siblings' sums "
    "are not bound separately: Hu-Zhang-Guo, 'Breaking the binding', ePrint 2018/1139)"
)
SUMS_IN_ZK_PROOF = "no sums in the tree's hashes: totals and non-negativity are proved only by the exchange's zk proofs"
SUMS_NONE = "none: a plain hash tree without sums (it proves membership, not totals)"


@dataclass(frozen=True)
class Design:
    """What one format's hashes bind: fixed per format (or variant), stated in every verdict."""

    hash: str  # "SHA-256", "SHA-256 truncated to 64 bits", "Poseidon over BN254", ...
    bits: int  # the width of a stored hash (a field element: 254)
    sums: str  # one of SUMS_*
    labels: str  # how asset names enter the hashes ("by name", "by position in ...")
    root_binds_totals: bool  # a pinned root alone fixes every per-asset total (or there are none)
    root_binds_labels: bool  # ... and which asset each total is for
    unbound_totals: str = ""  # why a root alone does not fix the totals, when it does not
    pin_hint: str = "pin the published totals too (--totals)"  # what would anchor a verdict the root cannot

    def collision_text(self) -> str:
        half = self.bits // 2
        text = f"{self.hash}, {self.bits}-bit values: finding a collision costs about 2^{half} hash evaluations"
        if half <= 40:
            text += " (minutes on a laptop: the exchange could make two documents with one hash)"
        return text


@dataclass(frozen=True)
class Customer:
    """What a customer says about themselves, to find their own leaves in a full-tree file
    (`verify-inclusion FILE --account ID --nonce HEX --balance ASSET=AMOUNT`)."""

    account: str | None = None
    nonce: str | None = None
    balances: tuple[tuple[str, str], ...] = ()  # (asset, amount text) as the customer typed them

    @property
    def given(self) -> bool:
        return self.account is not None or self.nonce is not None or bool(self.balances)


def check_customer(customer: Customer | None, fmt: str, required: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    """Bad input (exit 2) before anything is read: a missing detail a format needs to find the
    customer's leaves, or an option it cannot use (never silently ignored)."""
    c = customer or Customer()
    have = {"--account": c.account is not None, "--nonce": c.nonce is not None, "--balance": bool(c.balances)}
    missing = [opt for opt in required if not have[opt]]
    if missing:
        raise InputError(
            f"a {fmt} file holds every customer's leaves: give {' and '.join(missing)} to find yours", field=missing[0]
        )
    for opt, given in have.items():
        if given and opt not in required and opt not in allowed:
            raise InputError(
                f"an {fmt} proof carries no account id to compare with"
                if opt == "--account"
                else f"a {fmt} document does not use {opt}",
                field=opt,
            )


def sha256_hex(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def _refuse_constant(name: str) -> Any:
    raise InputError(f"{name} is not a number a proof may hold")


def read_json(raw: bytes, source: str) -> Any:
    """A foreign document as exact values: decimals as `Decimal` (the number text kept), integers
    as int, duplicate keys and NaN refused, a UTF-8 BOM and surrounding space allowed."""
    if len(raw) > MAX_JSON_BYTES:
        raise InputError(f"over {MAX_JSON_BYTES} bytes", file=source)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", file=source) from None
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant, object_pairs_hook=unique_keys)
    except InputError as exc:
        raise exc.at(file=source) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg} (column {exc.colno})", file=source, line=exc.lineno) from None
    except (RecursionError, ValueError) as exc:
        raise InputError(f"invalid JSON: {exc}", file=source) from None


_DECIMAL_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*|[0-9]+)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")


def decimal_of(value: Any, where: str) -> Decimal:
    """A balance as an exact Decimal, from a JSON number or a numeric string (as Java's
    `new BigDecimal(text)` reads it); anything else, or an absurd size, is a defect."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise InputError(f"expected a number, got {type(value).__name__}", field=where)
    if isinstance(value, str):
        if not _DECIMAL_TEXT.match(value) or len(value) > MAX_DIGITS:
            raise InputError(f"{value[:40]!r} is not a decimal number", field=where)
        value = Decimal(value)
    d = Decimal(value)
    _, digits, exponent = d.as_tuple()
    if isinstance(exponent, str):  # NaN or Infinity: a Decimal given in, never a JSON number
        raise InputError(f"{value} is not a finite number", field=where)
    if len(digits) > MAX_DIGITS or abs(exponent) > MAX_DIGITS:
        raise InputError("a number with more than 100 digits or an exponent over 100", field=where)
    return d


def _no_negative_zero(text: str) -> str:
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def plain(d: Decimal) -> str:
    """Java `BigDecimal.toPlainString()` (and Go decimal's fixed-point text): every digit, no exponent."""
    return _no_negative_zero(format(d, "f"))


def java_string(d: Decimal) -> str:
    """Java `BigDecimal.toString()`: scientific when the exponent is positive or the adjusted
    exponent is below -6; Python's `Decimal.__str__` follows the same rule."""
    return _no_negative_zero(str(d)).replace("e", "E")


def strip_zeros(d: Decimal) -> Decimal:
    """Java `stripTrailingZeros()`; zero becomes 0 (Java 8+), never 0E-8."""
    if not d:
        return Decimal(0)
    return d.normalize(EXACT)


def scale_down(d: Decimal, scale: int) -> Decimal:
    """Java `setScale(scale, RoundingMode.DOWN)`."""
    return d.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_DOWN, context=EXACT)


def pinned_root(expected_root: str | None, digits: int | tuple[int, ...], fmt: str, v: Verdict) -> str | None:
    """The user's root in this format's width (lower-case hex), or None; a root of another width
    cannot be this format's: the verdict fails, naming both widths."""
    if expected_root is None:
        return None
    value = expected_root.strip().lower().removeprefix("0x")
    widths = (digits,) if isinstance(digits, int) else digits
    if len(value) not in widths or not re.fullmatch(r"[0-9a-f]+", value):
        v.fail(f"the pinned root has {len(value)} hex digits; a {fmt} root has {' or '.join(str(w) for w in widths)}")
        return None
    return value


def compare_root(v: Verdict, computed: str | None, pinned: str | None, stated: str | None = None) -> None:
    """The recomputed root against the one the user pinned (and the one the file states)."""
    if stated is not None and computed is not None and computed != stated:
        v.fail(f"root: recomputed {computed}, the file states {stated}")
    if pinned is not None and computed is not None and computed != pinned:
        v.fail(f"root {computed} is not the pinned root {pinned}")


@dataclass
class _Lines:
    checked: list[str] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)


def describe(
    v: Verdict,
    design: Design,
    *,
    fmt: str,
    variant: str | None,
    leaf: str,
    path: str,
    non_negative: str,
    pinned: bool,
    totals_pinned: bool = False,
    zk_proof: str = "not applicable (no zk proof in this format)",
    extra_checked: list[str] | tuple[str, ...] = (),
    extra_not_checked: list[str] | tuple[str, ...] = (),
) -> Verdict:
    """Writes the one vocabulary into the verdict's facts (see the module docstring).

    `anchored` is what the shared fail-closed rule reads: the user pinned the root and the
    format's root alone binds what the verdict shows (its totals by asset, or there are none).
    """
    root = (
        "pinned by you (--root): the recomputed root is compared with it"
        if pinned
        else "taken from the file: compare it with the root the exchange published (--root)"
    )
    coverage = {
        "format": fmt,
        "variant": variant,
        "leaf": leaf,
        "path": path,
        "sums": design.sums,
        "labels": design.labels,
        "non_negative": non_negative,
        "root": root,
        "zk_proof": zk_proof,
        "hash": design.collision_text(),
    }
    v.facts["format"] = fmt
    if variant:
        v.facts["variant"] = variant
    v.facts["coverage"] = coverage
    lines = _lines(design, leaf, path, non_negative, root, pinned, zk_proof)
    lines.checked.extend(extra_checked)
    lines.not_checked.extend(extra_not_checked)
    if totals_pinned:
        lines.checked.append(f"totals: the root's totals equal the published ones ({v.facts.get('totals_pinned')})")
    v.facts.setdefault("checked", []).extend(lines.checked)
    v.facts.setdefault("not_checked", []).extend(lines.not_checked)
    v.facts["anchored"] = anchored = pinned and (
        totals_pinned or (design.root_binds_totals and design.root_binds_labels)
    )
    if pinned and not anchored:
        _note_unbound(v, design, fmt)
    return v


def _lines(design: Design, leaf: str, path: str, non_negative: str, root: str, pinned: bool, zk_proof: str) -> _Lines:
    """The coverage as checked / not checked lines, in the vocabulary's order."""
    lines = _Lines()
    lines.checked.append(f"leaf: {leaf}")
    lines.checked.append(f"path: {path}")
    (lines.checked if non_negative.startswith("checked") else lines.not_checked).append(
        f"non-negativity: {non_negative}"
    )
    (lines.not_checked if design.sums != SUMS_EACH_CHILD else lines.checked).append(f"sums: {design.sums}")
    if not design.root_binds_labels:
        lines.not_checked.append(f"asset labels: {design.labels}")
    (lines.checked if pinned else lines.not_checked).append(f"root: {root}")
    if zk_proof.startswith("checked"):
        lines.checked.append(f"zk proof: {zk_proof}")
    elif not zk_proof.startswith("not applicable"):
        lines.not_checked.append(f"zk proof: {zk_proof}")
    (lines.not_checked if design.bits < 160 else lines.checked).append(f"hash width: {design.collision_text()}")
    return lines


def _note_unbound(v: Verdict, design: Design, fmt: str) -> None:
    """A pinned root that does not anchor: the note says what the root leaves open and how to pin it."""
    why = [
        w
        for w, bound in (
            (f"which asset each total is for ({design.labels})", design.root_binds_labels),
            (f"the totals ({design.unbound_totals})", design.root_binds_totals),
        )
        if not bound
    ]
    v.facts.setdefault("notes", []).append(
        f"a pinned {fmt} root alone does not fix {' or '.join(why)}: {design.pin_hint}"
    )


@dataclass(frozen=True)
class Pinned:
    """What the user pinned, in the terms a foreign format compares: its root (hex) and, when
    given, the totals the exchange published (asset -> Decimal) and where they come from."""

    root: str | None = None
    totals: dict[str, Decimal] | None = None
    totals_source: str | None = None


def pinned_of(expected_root: str | None = None, pins: Any = None) -> Pinned:
    """Reads either calling convention of `ForeignFormat.verify_*`: a root hex string, or a
    `Pins` object (root bytes, a commitment, published totals)."""
    if pins is None:
        return Pinned(root=expected_root)
    root = getattr(pins, "pinned_root", None) or getattr(pins, "root", None)
    published = pins.published() if hasattr(pins, "published") else None
    totals, source = published if published else (None, None)
    return Pinned(
        root=root.hex() if isinstance(root, bytes) else (root or expected_root), totals=totals, totals_source=source
    )


def compare_totals(v: Verdict, shown: dict[str, Decimal] | None, pinned: Pinned) -> bool:
    """The verified root totals against the published ones, by asset name and exact value;
    True when totals were pinned and compared."""
    if pinned.totals is None:
        return False
    if shown is None:
        v.fail(f"totals: this document states no totals to compare with {pinned.totals_source}")
        return True
    for symbol in pinned.totals:
        if symbol not in shown:
            v.fail(f"totals: {pinned.totals_source} lists {symbol}, which the root does not hold")
    for symbol, value in shown.items():
        if symbol not in pinned.totals:
            v.fail(f"totals: the root holds {symbol}, which {pinned.totals_source} does not list")
        elif value != pinned.totals[symbol]:
            v.fail(
                f"totals: {symbol} {plain(value)} is not the published total {plain(pinned.totals[symbol])} "
                f"({pinned.totals_source})"
            )
    v.facts["totals_pinned"] = pinned.totals_source
    return True


def root_binding(design: Design, name: str) -> RootBinding:
    """The format's root, in the terms of the shared fail-closed rule (`por.verdict.RootBinding`):
    whether a pinned root alone anchors a verdict."""
    unbound = []
    if not design.root_binds_labels:
        unbound.append(f"which asset each amount is for ({design.labels})")
    if not design.root_binds_totals:
        unbound.append(f"the totals ({design.unbound_totals})")
    article = "an" if name[0] in "AEIOU" or name.startswith(("HTX", "MEXC")) else "a"
    return RootBinding(
        labels=design.root_binds_labels,
        totals=design.root_binds_totals,
        name=f"{article} {name} document",
        unbound=" or ".join(unbound),
    )


class ProofOnlyFormat(ABC):
    """An exchange that hands customers proofs and publishes no full tree: one `--format` name.

    Subclasses set `name`, `exchange` (as verdicts name it) and `design`, and give
    `detect_proof` and `verify_document` (one proof, parsed and verified); what a root binds,
    the `ForeignFormat` signatures and the refusal of `verify-tree` are the same for all of them.
    """

    name: str
    exchange: str
    design: Design
    no_tree: str | None = None  # the refusal of verify-tree, when it says more than the default
    tree_formats: tuple[str, ...] = ()

    @property
    def proof_formats(self) -> tuple[str, ...]:
        return (self.name,)

    def root_binding(self, name: str) -> RootBinding:
        return root_binding(self.design, self.exchange)

    @abstractmethod
    def detect_proof(self, doc: Any) -> str | None:
        """This format's name if the parsed JSON document is one of its proofs, else None."""

    @abstractmethod
    def verify_document(self, raw: bytes, source: str, pins: Pins, customer: Customer | None) -> Verdict:
        """One proof, parsed and verified against the pins (`customer` only where `check_customer` allows it)."""

    def detect_tree(self, first_line: bytes) -> str | None:
        return None

    def verify_proof(
        self,
        name: str,
        raw: bytes,
        source: str,
        *,
        pins: Pins,
        tree: Path | None = None,
        customer: Customer | None = None,
        config: Path | None = None,
    ) -> Verdict:
        """No full tree and no asset list: por.liabilities.check refuses `tree` and `config` for this format."""
        return self.verify_document(raw, source, pins, customer)

    def verify_tree(
        self,
        name: str,
        path: Path,
        *,
        pins: Pins,
        progress: Callable[[int], None] | None = None,
        config: Path | None = None,
    ) -> Verdict:
        raise InputError(self.no_tree or f"{self.exchange} publishes no full tree", field="--format")
