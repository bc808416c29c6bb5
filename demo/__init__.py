"""``make demo``: the real job on the bundled Cheshire data, served over a real local HTTP server."""
