"""Publication: signing and linking periods (attestation), the history of periods and its page,
and checking a publication's chain and signatures (verify)."""

__all__ = ["attestation", "history", "history_html", "verify"]
