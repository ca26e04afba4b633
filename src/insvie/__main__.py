"""``python -m insvie`` runs the command line."""

from insvie.cli.main import main

main()
