"""`python -m evbill` runs the command line."""

from evbill.cli import main

main()
