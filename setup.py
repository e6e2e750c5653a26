"""Which packages the distribution installs (the metadata is in pyproject.toml).

Everything under ``specmodel/``, plus the repository's ``checks/`` folder of claims installed
as ``specmodel.checks``: the claim ids stay ``checks.<module>.<name>`` (see
``specmodel.claims``), but site-packages gets no generic top-level ``checks`` package that
would collide with a user's own. pyproject.toml cannot express "found packages plus one
mapped folder", hence this file.
"""

from setuptools import find_namespace_packages, setup

CLAIMS = "specmodel.checks"
_SKIP = ["__pycache__", "*.__pycache__"]

setup(
    packages=[
        # Namespace discovery also finds data-only folders (sphinxext/static), whose files
        # [tool.setuptools.package-data] in pyproject.toml then ships.
        *find_namespace_packages(include=["specmodel", "specmodel.*"], exclude=_SKIP),
        CLAIMS,
        *(f"{CLAIMS}.{name}" for name in find_namespace_packages("checks", exclude=_SKIP)),
    ],
    package_dir={CLAIMS: "checks"},
)
