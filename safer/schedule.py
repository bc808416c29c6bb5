"""Where job stores written before 0.2 find the scheduled function: they pickled it by name as
``safer.schedule:fire``. Loading such a store resolves the name here; ``safer.app.schedule``
then moves each job to its current name, so this module is read once per old store."""

from __future__ import annotations

from safer.app.schedule import fire

__all__ = ["fire"]
