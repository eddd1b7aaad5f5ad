"""por: publish and verify proofs of reserves and liabilities for crypto exchanges."""

__version__ = "0.1.0"
