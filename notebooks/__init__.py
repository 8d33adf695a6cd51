"""Package data: notebooks shipped with ctpat-audit (no code)."""
