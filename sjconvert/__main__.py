"""``python -m sjconvert``: the same command line as ``sjconvert``."""

import sys

try:
    from .cli.entry import main
except KeyboardInterrupt:  # Ctrl-C before the handling is installed
    print("interrupted", file=sys.stderr)
    sys.exit(130)

main()
