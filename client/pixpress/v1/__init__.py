"""Generated wire code for pixpress.v1 (regenerate with proto/generate.py, never edit)."""
