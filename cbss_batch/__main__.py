"""``python -m cbss_batch`` runs the command line."""

from cbss_batch.cli import main

main()
