"""``python -m sessionary.cli``: the same as the ``sessionary`` command."""

from sessionary.cli import main

main()
