"""Target commands. Each module here registers its commands on the app of
:mod:`sjconvert.cli.app` (``@app.command``); :mod:`sjconvert.cli.main` imports them all."""
