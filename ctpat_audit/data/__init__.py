"""Package data: data shipped with ctpat-audit (no code)."""
