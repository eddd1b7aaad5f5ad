"""An OKX result against what the user pinned: root, published totals, a commitment.

OKX's parent hash joins the amount texts and the height with no separator, so a root
hash read alone has several sets of totals and heights (`rules.readings`): a genuine V1
proof re-split as BTC 95088.5550565 / ETH 6939953.49090361 keeps its root. So a root
alone never verifies an OKX file: the published totals must be pinned too (`--totals`
or a commitment), and are compared by coin name and exact value. With the root's
totals pinned, its preimage has one reading, and the height is bound with them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from por.liabilities.foreign.okx.rules import COINS, SCALE, balances_dict, readings, units_text
from por.liabilities.pins import Pins, compare_snapshot, compare_totals
from por.verdict import Verdict

if TYPE_CHECKING:
    from por.liabilities.porjson import Commitment

UNBOUND = (
    "the per-coin totals or the height (OKX's rule joins the amount texts and the height with no "
    'separator: "12"+"3" hashes like "1"+"23")'
)
NO_ACCOUNT_ID = (
    "OKX leaves carry no account id: only the nonce ties a leaf to one customer, "
    "so two customers with equal balances could be shown the same leaf"
)


def as_pins(pins: Pins | str | None) -> Pins:
    """Pins as given; a bare string is a root alone (hex, `0x` and upper case allowed); None is nothing."""
    if isinstance(pins, str):
        return Pins(root=bytes.fromhex(pins.strip().lower().removeprefix("0x")))
    return pins if pins is not None else Pins()


def anchor(
    v: Verdict,
    pins: Pins,
    *,
    root: str,
    root_units: tuple[int, ...],
    height: int,
    leaf_count: int | None = None,
    leaf_range: tuple[int, int] | None = None,
    file_sha256: bytes | None = None,
    customer: bool = True,
) -> None:
    """Compares a verified OKX root (hash, totals, OKX height with leaves at 1) with the pins,
    and says in the verdict what the root alone does not bind."""
    notes = v.facts.setdefault("notes", [])
    v.facts["root_does_not_bind"] = ["per-coin totals", "height"] + (["account id"] if customer else [])
    v.facts["anchored"] = pins.anchored
    expected = pins.pinned_root
    if expected is not None and root != expected.hex():
        v.fail(f"root {root} is not the published root {expected.hex()}")
    published = pins.published()
    texts = [units_text(u) for u in root_units]
    if published is not None:
        totals, source = published
        compare_totals(v, balances_dict(COINS, root_units), totals, source)
        v.facts["totals_pinned"] = source
        notes.append(f"an OKX root hash alone does not bind {UNBOUND}: they were compared with {source}")
    else:
        ways = readings(texts, height)
        if expected is not None:
            v.fail(
                f"the published root alone does not bind {UNBOUND}; this root reads {ways} ways: "
                "pin the published totals too, with --totals FILE or --commitment"
            )
        else:
            notes.append(
                f"an OKX root hash alone does not bind {UNBOUND}: pin the published root and totals "
                "(--root with --totals FILE, or --commitment)"
            )
    if customer:
        notes.append(NO_ACCOUNT_ID)
    if pins.totals is not None:
        compare_snapshot(v, pins.totals, None)
    if pins.commitment is not None:
        _against_commitment(v, pins.commitment, height, leaf_count, leaf_range, file_sha256)


def _against_commitment(
    v: Verdict,
    c: Commitment,
    height: int,
    leaf_count: int | None,
    leaf_range: tuple[int, int] | None,
    file_sha256: bytes | None,
) -> None:
    """What a commitment promises for por inputs (assets, totals, height, leaf count) held for OKX."""
    notes = v.facts["notes"]
    if [(a.symbol, a.decimals) for a in c.assets] != [(coin, SCALE) for coin in COINS]:
        v.fail(
            f"asset list differs from the commitment's: an OKX tree holds BTC, ETH and USDT, each to {SCALE} decimals"
        )
    if c.height != height - 1:
        v.fail(
            f"height differs from the commitment's: {height - 1} levels above the leaves "
            f"(OKX height {height}, leaves at 1), the commitment says {c.height}"
        )
    if leaf_count is not None:
        if leaf_count != c.leaf_count:
            v.fail(
                f"leaf count differs from the commitment's: the tree has {leaf_count}, "
                f"the commitment says {c.leaf_count}"
            )
    elif leaf_range is not None:
        low, high = leaf_range
        if not low <= c.leaf_count <= high:
            v.fail(
                f"leaf count differs from the commitment's: this path fits a tree of {low}..{high} "
                f"leaves, the commitment says {c.leaf_count}"
            )
        else:
            notes.append(
                f"a V1 proof shows the leaf count only as {low}..{high}; the commitment's "
                f"{c.leaf_count} is in that range"
            )
    if c.tree_sha256 is not None:
        if file_sha256 is None:
            notes.append("the commitment pins a tree file's sha256: give that file to verify-tree to check it")
        elif file_sha256 != c.tree_sha256:
            v.fail("file's sha256 differs from the one the commitment pins (not the published tree)")
    notes.append(f"snapshot {c.snapshot_id!r} of the commitment: not checked, OKX files carry no snapshot id")
