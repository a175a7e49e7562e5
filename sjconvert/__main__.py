"""``python -m sjconvert``: the same command line as ``sjconvert``."""

from .cli.entry import main

main()
