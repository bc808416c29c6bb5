"""``make demo``: the real job on the bundled Cheshire data, served by a local HTTP server."""
