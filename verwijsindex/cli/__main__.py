"""``python -m verwijsindex.cli``: the same as the ``verwijsindex`` command."""

from verwijsindex.cli import main

main()
