"""Reserves: declared wallets, the snapshot, ownership proofs and balances read through `chains/`.

The records adapters and this wing share live in `chains.records`; the wings above
(audit) take them from here, so they never reach past reserves into chains.
"""

from chains.records import AddressReserve, Custodian, DeclaredWallet, Scheme, Snapshot, WalletType

__all__ = [
    "AddressReserve",
    "Custodian",
    "DeclaredWallet",
    "Scheme",
    "Snapshot",
    "WalletType",
    "classify",
    "custodians",
    "inputs",
    "read",
]
