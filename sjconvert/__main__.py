"""``python -m sjconvert``."""

from .cli.app import main

main()
