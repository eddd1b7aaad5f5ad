"""Other exchanges' proof formats behind one interface (`base.ForeignFormat`); `detect` tries each."""

__all__ = [
    "base",
    "bitget",
    "bitmex",
    "bybit",
    "coinex",
    "common",
    "detect",
    "merkletreejs",
    "mexc",
    "okx",
    "okx_stark",
    "zk",
]
