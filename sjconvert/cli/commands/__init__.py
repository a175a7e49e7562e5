"""Target commands. Each module here imports ``app`` (and the shared option types and
helpers) from :mod:`sjconvert.cli.app` and registers its commands with ``@app.command``; the
app imports every module in this package at start-up, so adding a target adds no edit here."""
