"""``python -m verwijsindex.cli``: the ``verwijsindex`` command."""

import sys

from verwijsindex.cli import main

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
