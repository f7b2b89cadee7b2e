"""Run the CLI with ``python -m shopkeeper``."""

from shopkeeper.cli import main

main()
