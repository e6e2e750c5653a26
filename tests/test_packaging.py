"""Packaging: what the wheel and sdist ship, and how claim ids resolve once installed.

The distributions are built once (``python -m build``, sdist then a wheel from the sdist, as a
user's ``pip install`` does), or taken from ``$SPECMODEL_DIST`` when CI has built them already.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

from specmodel.claims import BUILTIN_PACKAGE, all_claims, builtin_claim_dirs, get_claim
from specmodel.errors import UnknownNameError

REPO = Path(__file__).resolve().parents[1]
#: Source folders the distribution ships, and where each lands in site-packages.
SHIPPED = {"specmodel": "specmodel", "checks": "specmodel/checks"}


def _source_files() -> set[str]:
    """Every file the repo has under the shipped folders (tracked or new, not ignored),
    as the wheel path it must have."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *SHIPPED],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if listing.returncode == 0:
        names = [n for n in listing.stdout.splitlines() if (REPO / n).is_file()]
    else:  # not a git checkout: every file but bytecode
        names = [
            str(p.relative_to(REPO))
            for top in SHIPPED
            for p in (REPO / top).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        ]
    out = set()
    for name in names:
        top, _, rest = name.partition("/")
        out.add(f"{SHIPPED[top]}/{rest}")
    return out


@pytest.fixture
def dist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("SPECMODEL_DIST")
    if given:
        return Path(given)
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return out


def _one(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {folder}; found {found}"
    return found[0]


def test_the_wheel_ships_every_package_file_and_no_top_level_checks(dist_dir: Path) -> None:
    with zipfile.ZipFile(_one(dist_dir, "specmodel-*.whl")) as wheel:
        names = set(wheel.namelist())
        (info,) = {n.split("/")[0] for n in names if ".dist-info/" in n}
        top_level = wheel.read(f"{info}/top_level.txt").decode().split()
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
    files = {n for n in names if not n.startswith(info)}
    assert {n.split("/")[0] for n in files} == {"specmodel"}, sorted(files)
    assert top_level == ["specmodel"]
    expected = _source_files()
    # Data files (CSS, tables) as much as modules: a file the wheel lacks is listed by name.
    assert sorted(expected - files) == []
    assert sorted(files - expected - _compiled(files, expected)) == []
    assert "specmodel/checks/fast_zap.py" in files
    assert "specmodel/sphinxext/static/specmodel.css" in files
    assert "specmodel = specmodel.pytest_plugin" in entry_points
    assert "specmodel = specmodel.cli:main" in entry_points
    # The sdist (which the wheel was built from) keeps the repo layout: checks/ at the top,
    # setup.py mapping it. (One test, so that xdist workers do not each build.)
    sdist = _one(dist_dir, "specmodel-*.tar.gz")
    with tarfile.open(sdist) as tar:
        root = tar.getnames()[0].split("/")[0]
        names = {n.removeprefix(root + "/") for n in tar.getnames()}
    for name in ("pyproject.toml", "setup.py", "README.md"):
        assert name in names
    for wheel_path in _source_files():
        source = wheel_path.replace("specmodel/checks/", "checks/", 1)
        assert source in names, f"{source} missing from {sdist.name}"


def _compiled(files: set[str], sources: set[str]) -> set[str]:
    """The extension modules of a compiled wheel (setup.py, mypyc): one beside each
    compiled module's ``.py``, and mypyc's shared library in ``specmodel/``; or none (a
    pure wheel). Any other file of ``files`` is left out, so the caller lists it."""
    suffix = re.compile(r"\.cpython-\d+[-\w]*\.(so|pyd)$")
    extensions = {f for f in files if suffix.search(f)}
    if not extensions:
        return set()
    modules = {suffix.sub("", f) for f in extensions}
    shared = "specmodel/_mypyc__mypyc"
    assert shared in modules, sorted(extensions)
    # the explorer's hot modules are among them (the full list is in setup.py)
    assert {"specmodel/kernel/state", "specmodel/explorer/search"} <= modules
    return {
        f
        for f in extensions
        if suffix.sub("", f) in {shared} | {s.removesuffix(".py") for s in sources}
    }


def _package(root: Path, name: str, modules: dict[str, str]) -> None:
    (root / name).mkdir()
    (root / name / "__init__.py").write_text("")
    for module, source in modules.items():
        (root / name / f"{module}.py").write_text(textwrap.dedent(source))


_USER_CLAIM = """
    from specmodel.claims import claim

    @claim(statement="Mine.", scenarios=("fast_zap",), mutants=("no_yield",))
    def mine(ctx):
        ctx.require_holds(ctx.explore("fast_zap", only=("generation_0_or_1",), pages=2))
    """


def test_a_user_claim_module_is_cited_by_its_import_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _package(tmp_path, "myproject", {"claims": _USER_CLAIM})
    monkeypatch.syspath_prepend(str(tmp_path))
    found = get_claim("myproject.claims.mine")
    assert found.id == "myproject.claims.mine" and found.statement == "Mine."
    assert found.run().holds
    assert [c.id for c in all_claims("myproject")] == ["myproject.claims.mine"]
    with pytest.raises(UnknownNameError) as info:
        get_claim("myproject.claims.nope")
    assert "expected one of: myproject.claims.mine" in str(info.value)


def test_a_user_top_level_checks_package_does_not_shadow_the_builtin_claims(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``checks.`` ids always mean specmodel's claims, whatever else is named ``checks``."""
    _package(tmp_path, "checks", {"fast_zap": _USER_CLAIM, "mine": _USER_CLAIM})
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == "checks" or m.startswith("checks.")]:
        monkeypatch.delitem(sys.modules, name)
    builtin = get_claim("checks.fast_zap.generation_only_0_or_1")
    assert builtin.check.__module__ == f"{BUILTIN_PACKAGE}.fast_zap"
    assert builtin_claim_dirs() == (REPO / "checks",)
    with pytest.raises(UnknownNameError) as info:
        get_claim("checks.mine.mine")
    assert "checks.fast_zap.generation_only_0_or_1" in str(info.value)


def test_a_broken_user_claim_module_is_not_an_unknown_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import error inside the user's module is reported as itself, not as a typo."""
    _package(tmp_path, "brokenclaims", {"a": "import no_such_dependency_xyz\n"})
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_xyz"):
        get_claim("brokenclaims.a.c")


def test_a_source_tree_without_install_loads_checks_as_specmodel_checks() -> None:
    """``PYTHONPATH=.`` and no install: the editable finder is gone, checks/ still resolves."""
    code = textwrap.dedent(
        """
        import sys
        sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
        for name in [m for m in sys.modules if m.startswith("__editable__")]:
            del sys.modules[name]
        import importlib.util
        assert importlib.util.find_spec("specmodel.checks") is None
        from specmodel.claims import all_claims, builtin_claim_dirs, get_claim
        c = get_claim("checks.fast_zap.generation_only_0_or_1")
        print(c.id, c.check.__module__, len(all_claims()), builtin_claim_dirs()[0])
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    claim_id, module, count, folder = done.stdout.split()
    assert (claim_id, module) == (
        "checks.fast_zap.generation_only_0_or_1",
        "specmodel.checks.fast_zap",
    )
    assert int(count) == len(all_claims()) and Path(folder) == REPO / "checks"


# --- repository files for other tools: the pre-commit hook and the CI page's examples ---


def test_the_pre_commit_hook_declares_what_pre_commit_requires() -> None:
    import tomllib

    import yaml

    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert isinstance(hooks, list) and [h["id"] for h in hooks] == ["specmodel-lint"]
    (hook,) = hooks
    # pre-commit's manifest schema: id, name, entry and language are required.
    assert {"id", "name", "entry", "language"} <= set(hook)
    assert hook["language"] == "python"  # pre-commit pip-installs this repository
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert hook["entry"].split() == ["specmodel", "lint"] and "specmodel" in scripts
    files = re.compile(hook["files"])
    for path in ("Documentation/virt/kvm/x86/mmu.rst", "Documentation/virt/kvm/mmu.rst"):
        assert files.search(path), path
    for path in ("docs/index.rst", "Documentation/virt/kvm/x86/mmu.rst.orig", "tdp_mmu.rst"):
        assert not files.search(path), path
    assert hook["types"] == ["rst"]


def test_the_hook_entry_lints_the_files_it_is_given() -> None:
    """What pre-commit runs: the entry followed by the changed file names."""
    entry = ["specmodel", "lint"]
    inputs = REPO / "tests" / "lint_inputs"
    command = [sys.executable, "-m", *entry, str(inputs / "drift.rst")]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{inputs / 'drift.rst'}:" in done.stdout


def _yaml_blocks(rst: str) -> list[str]:
    """The bodies of the ``.. code-block:: yaml`` blocks of an .rst text, dedented."""
    blocks = re.findall(r"^\.\. code-block:: yaml\n\n((?:(?:   .*)?\n)+)", rst, re.M)
    return [textwrap.dedent(b) for b in blocks]


def test_the_ci_page_workflows_are_valid_yaml_with_the_documented_commands() -> None:
    import yaml

    blocks = [yaml.safe_load(b) for b in _yaml_blocks((REPO / "docs/guide/ci.rst").read_text())]
    github, gitlab, pre_commit, local = blocks
    steps = github["jobs"]["spec-checks"]["steps"]
    runs = [s.get("run", "") for s in steps]
    uses = [s.get("uses", "") for s in steps]
    assert "specmodel check --format github docs" in runs
    assert "specmodel check --format sarif --output specmodel.sarif docs" in runs
    upload = steps[uses.index("github/codeql-action/upload-sarif@v3")]
    assert upload["with"]["sarif_file"] == "specmodel.sarif" and upload["if"] == "always()"
    assert github["jobs"]["spec-checks"]["permissions"]["security-events"] == "write"
    assert any(r.startswith("specmodel lint") for r in runs)
    assert any(r.startswith("python -m sphinx -W -n") for r in runs)
    job = gitlab["spec-checks"]
    assert "specmodel check --format junit --output report.xml docs" in job["script"]
    assert job["artifacts"]["reports"]["junit"] == "report.xml"
    hook = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())[0]
    assert pre_commit["repos"][0]["hooks"] == [{"id": hook["id"]}]
    (local_hook,) = local["repos"][0]["hooks"]
    assert (local_hook["entry"], local_hook["files"]) == (hook["entry"], hook["files"])
