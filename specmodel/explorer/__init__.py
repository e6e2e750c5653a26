"""The explorer: search over a scenario's interleavings, invariants, symmetry and traces.

It depends on the kernel model (``specmodel.kernel``), never the other way round.
"""

from specmodel.explorer.search import (
    Exploration,
    ProgressInfo,
    Violation,
    explore,
    programs_of,
    replay,
)

__all__ = ["Exploration", "ProgressInfo", "Violation", "explore", "programs_of", "replay"]
