"""``python -m sjconvert``: the same command line as ``sjconvert``."""

from .cli.main import main

main()
