"""``python -m scaleplan`` runs the command line."""

from scaleplan.cli import main

main()
