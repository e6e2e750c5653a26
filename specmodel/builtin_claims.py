"""Where the built-in claims (the repository's ``checks/`` folder) live, found without
importing them or the model: the cache fingerprints their sources on every build, and a warm
build must not pay for importing the whole model (a third of its time) to do so.

Installed (wheel or editable), the distribution maps the package ``specmodel.checks`` to that
folder. In a source tree used without installing (``PYTHONPATH=.``) that mapping does not
exist, and the ``checks/`` folder beside the ``specmodel`` package stands for it
(:func:`specmodel.claims.builtin_package` loads it under the same name).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

#: Where the built-in claims are installed.
BUILTIN_PACKAGE = "specmodel.checks"


def source_tree_folder() -> Path:
    """The ``checks/`` folder beside the ``specmodel`` package (a source tree)."""
    return Path(__file__).resolve().parent.parent / "checks"


def builtin_claim_dirs() -> tuple[Path, ...]:
    """The folders holding the built-in claims' sources: the installed package's, else, in a
    source tree used without installing, the ``checks/`` folder beside the package."""
    spec = importlib.util.find_spec(BUILTIN_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        return tuple(Path(p) for p in spec.submodule_search_locations)
    folder = source_tree_folder()
    return (folder,) if folder.is_dir() else ()
