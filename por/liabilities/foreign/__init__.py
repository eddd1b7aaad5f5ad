"""Other exchanges' proof formats behind one interface (`base.ForeignFormat`); `detect` tries each."""

__all__ = ["base", "detect", "okx"]
