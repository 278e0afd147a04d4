"""``python -m tinygrad_mb ...`` runs the command line (same as ``tinygrad-mb ...``)."""

from tinygrad_mb.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
