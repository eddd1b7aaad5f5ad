"""File formats: por's own documents and other exchanges' published formats."""
