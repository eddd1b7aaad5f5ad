"""What counts as a reserve: the one rule `por reserves` and `por audit` both apply to each declared address.

An address counts when its ownership is proven, its balance was read at the
snapshot (an address of a kind por cannot check is never read: "not counted:
unsupported", a finding about that address alone), the custodian holding it (if any)
is registered and the custody-system provider running it (if any) has notified, on
the snapshot date (when the auditor gives the lists: `reserves.custodians`), no
other exchange claims it (when the policy excludes those), and it was not already
counted: an address declared twice counts once.
"""

from __future__ import annotations

from chains.records import AddressReserve, DeclaredWallet


def address_key(wallet: DeclaredWallet) -> tuple[str, str, str]:
    """One address of one asset on one chain, however its hex is cased."""
    return wallet.chain, wallet.asset, wallet.address.lower()


def not_counted(
    row: AddressReserve,
    *,
    counted_at: str | None = None,
    claimed_by: str | None = None,
    exclude_claimed: bool = False,
    unregistered: str | None = None,
) -> tuple[str, str] | None:
    """(reason, category) why this declaration does not count, or None when it counts.

    `counted_at`: where the same address was already counted; `claimed_by`: another
    exchange that declares it too; `unregistered`: why its custodian is not registered, or its
    custody-system provider not notified, on the snapshot date (`CustodianCheck.reason`). The
    category groups reasons in the report's notes."""
    if row.ownership.unsupported:
        return f"not counted: {row.ownership.reason}", "of a kind por cannot check (unsupported)"
    if not row.ownership.ok:
        return f"ownership not proven: {row.ownership.reason}", "with unproven ownership"
    if row.amount is None:
        return "balance not read at the snapshot", "whose balance was not read"
    if unregistered is not None:
        return f"{unregistered}: not counted", (
            "at a custodian not registered (or on a custody-system provider not notified) on the snapshot date"
        )
    if claimed_by is not None and exclude_claimed:
        return f"also claimed by {claimed_by}: excluded by the policy", f"also claimed by {claimed_by}"
    if counted_at is not None:
        return f"declared again: already counted at {counted_at}", "duplicate"
    return None


def ownership_status(row: AddressReserve) -> str:
    """verified | failed | unsupported: one word per declaration, for reports and --json."""
    if row.ownership.ok:
        return "verified"
    return "unsupported" if row.ownership.unsupported else "failed"


def duplicate_positions(rows: list[AddressReserve]) -> list[list[str]]:
    """Per row, the positions of every other declaration of the same address (empty when declared once)."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(address_key(row.wallet), []).append(i)
    return [
        [rows[j].wallet.source or f"row {j + 1}" for j in groups[address_key(row.wallet)] if j != i]
        for i, row in enumerate(rows)
    ]
