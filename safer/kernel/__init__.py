"""The kernel every layer may import: config models, errors, periods, the clock's fault points
and stop signals, logging. It imports nothing of the project's own outside itself."""
