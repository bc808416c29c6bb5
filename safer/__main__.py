"""``python -m safer``: the same command line as the ``safer`` script."""

from safer.scheduler import cli

cli()
