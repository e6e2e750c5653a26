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

# A page wide enough for the traces and the side-by-side table on the history page (the
# extension ships its own stylesheet for verdict boxes and counterexamples).
html_theme_options = {"page_width": "1240px", "sidebar_width": "230px", "body_max_width": "960px"}

# Judge any unmodified kernel mmu.rst in the tree, and print the sentence table's coverage.
specmodel_prose = "kvm_mmu_page"
