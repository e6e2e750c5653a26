"""Sphinx configuration for specmodel's documentation (sources in docs/).

Build with ``sphinx-build -W -n -c . docs docs/_build/html``.
"""

project = "specmodel"
author = "the specmodel developers"
copyright = "2026, the specmodel developers"
extensions = [
    "sphinx.ext.autodoc",
    "specmodel.sphinxext",
]
exclude_patterns = ["_build"]
html_theme = "alabaster"
nitpicky = True
autodoc_member_order = "bysource"
autodoc_typehints = "none"
