"""Package data: templates shipped with ctpat-audit (no code)."""
