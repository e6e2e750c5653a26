"""A verdict from the cache (or from the stored environment) always equals a fresh run.

Each test edits something a check depends on, between two builds of unchanged documents,
and checks that the next build's verdict is the fresh one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from spec_helpers import fresh_runs, spec_errors, verdicts

from specmodel.sphinxext.cache import job_key, verdict_settings
from specmodel.sphinxext.records import Job

CONF = """\
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
extensions = ["specmodel.sphinxext"]
"""

USER_CLAIM = """\
from specmodel.claims import ClaimContext, claim

EXPECTED = {expected}


@claim(statement="A fast zap yields after 10 pages.", scenarios=("fast_zap",),
       mutants=("no_yield",))
def batch_of_ten(ctx: ClaimContext) -> None:
    from specmodel.kernel import BATCH_ZAP_PAGES

    ctx.require(BATCH_ZAP_PAGES == EXPECTED, f"expected {{EXPECTED}}, found {{BATCH_ZAP_PAGES}}")
"""

CLAIM_DOC = """\
User claim
==========

.. spec:claim:: userclaims.batch_of_ten

   A fast zap yields after ten pages.
"""

HELPER_DOC = """\
Helper
======

.. spec:run::

   import helper
   assert helper.VALUE == BATCH_ZAP_PAGES, f"helper says {helper.VALUE}"
"""


def _project(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    for name, text in {"conf.py": CONF, **files}.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def _statuses(app: Any) -> list[str]:
    return [v.status for v in verdicts(app) if v.kind in ("claim", "run")]


def _again(make_app: Any, src: Path, **kwargs: Any) -> Any:
    app = make_app("html", srcdir=src, freshenv=False, **kwargs)
    app.build()
    return app


def test_an_edited_claim_in_the_users_own_module_is_checked_again(
    make_app: Any, tmp_path: Path
) -> None:
    """The claim lives next to conf.py, not in checks/; the .rst does not change."""
    src = _project(
        tmp_path / "claim",
        {"index.rst": CLAIM_DOC, "userclaims.py": USER_CLAIM.format(expected=10)},
    )
    first = make_app("html", srcdir=src, freshenv=True)
    first.build()
    assert _statuses(first) == ["held"]

    (src / "userclaims.py").write_text(USER_CLAIM.format(expected=11), encoding="utf-8")
    incremental = _again(make_app, src)
    assert _statuses(incremental) == ["diverged"]
    assert [v.docname for v in fresh_runs(incremental)] == ["index"]
    assert "expected 11, found 10" in spec_errors(incremental)[0]
    # a build with no environment (only the cache) must not resurrect the old verdict
    cache_only = _again(make_app, src, builddir=tmp_path / "other-build")
    assert _statuses(cache_only) == ["diverged"]

    (src / "userclaims.py").write_text(USER_CLAIM.format(expected=10), encoding="utf-8")
    back = _again(make_app, src)
    assert _statuses(back) == ["held"]
    unchanged = _again(make_app, src)
    assert fresh_runs(unchanged) == []
    assert _statuses(unchanged) == ["held"]


def test_an_edited_helper_module_a_block_imports_is_checked_again(
    make_app: Any, tmp_path: Path
) -> None:
    src = _project(tmp_path / "helper", {"index.rst": HELPER_DOC, "helper.py": "VALUE = 10\n"})
    first = make_app("html", srcdir=src, freshenv=True)
    first.build()
    assert _statuses(first) == ["held"]
    assert _again(make_app, src).statuscode == 0  # unchanged: nothing re-run
    (src / "helper.py").write_text("VALUE = 12\n", encoding="utf-8")
    edited = _again(make_app, src)
    assert _statuses(edited) == ["diverged"]
    assert "helper says 12" in spec_errors(edited)[0]
    cache_only = _again(make_app, src, builddir=tmp_path / "other-build")
    assert _statuses(cache_only) == ["diverged"]


BUDGET_DOC = """\
Budget
======

.. spec:invariant:: kvm.arch.mmu_valid_gen in (0, 1)
   :scenario: concurrent_zaps
   :vcpus: 1
   :pages: 2
"""


def test_a_changed_budget_or_any_other_specmodel_setting_is_a_cache_miss(
    make_app: Any, tmp_path: Path
) -> None:
    """``specmodel_max_states`` decides this verdict; an unknown ``specmodel_*`` value that a
    project (or a later version) adds is part of the key too, even without ``rebuild='env'``."""
    src = _project(
        tmp_path / "budget",
        {"index.rst": BUDGET_DOC},
    )
    with (src / "conf.py").open("a", encoding="utf-8") as conf:
        conf.write("def setup(app):\n    app.add_config_value('specmodel_extra_setting', 1, '')\n")
    first = make_app("html", srcdir=src, freshenv=True)
    first.build()
    assert [v.status for v in verdicts(first) if v.kind == "invariant"] == ["held"]

    small = _again(make_app, src, confoverrides={"specmodel_max_states": 50})
    assert [v.status for v in verdicts(small) if v.kind == "invariant"] == ["error"]
    assert "explored more than 50 states" in spec_errors(small)[0]

    default = _again(make_app, src, builddir=tmp_path / "b2")
    assert [(v.status, v.cached) for v in verdicts(default) if v.kind == "invariant"] == [
        ("held", True)
    ]
    other = _again(
        make_app, src, builddir=tmp_path / "b2", confoverrides={"specmodel_extra_setting": 2}
    )
    assert [(v.status, v.cached) for v in verdicts(other) if v.kind == "invariant"] == [
        ("held", False)
    ]
    assert len(fresh_runs(other)) == 1


class _Setting:
    def __init__(self, name: str, value: object) -> None:
        self.name = name
        self.value = value


def test_the_key_covers_every_verdict_setting_and_no_other() -> None:
    job = Job("claim", "d#0", "d", "/d.rst", 3, "checks.fast_zap.x", (("vcpus", "1"),))
    base = [_Setting("specmodel_max_states", 10), _Setting("project", "x")]

    def key(*extra: _Setting) -> str:
        return job_key(job, verdict_settings([*base, *extra]), "model")

    assert key() == key(_Setting("specmodel_workers", 8), _Setting("specmodel_cache_dir", "/c"))
    assert key() == key(_Setting("specmodel_fresh", True))
    assert key() == key(_Setting("html_theme", "alabaster"))
    assert key() != key(_Setting("specmodel_new_scenario_knob", 1))
    assert key() != job_key(job, verdict_settings(base), "another model")
    moved = Job("claim", "e#4", "e", "/e.rst", 9, "checks.fast_zap.x", (("vcpus", "1"),))
    assert key() == job_key(moved, verdict_settings(base), "model")  # same check elsewhere


COUNTER_DOC = """\
Counter
=======

.. spec:run::

   with open({log!r}, "a") as log:
       log.write("ran\\n")
"""


def _runs(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env
    )


def test_check_fresh_and_sphinx_build_minus_e_run_every_check_and_write_it_back(
    tmp_path: Path,
) -> None:
    log = tmp_path / "ran.log"
    docs = _project(tmp_path / "docs", {"index.rst": COUNTER_DOC.format(log=str(log))})
    check = ("-m", "specmodel", "check", "docs")
    assert _cli(*check, cwd=tmp_path).returncode == 0
    assert _runs(log) == 1
    assert _cli(*check, cwd=tmp_path).returncode == 0
    assert _runs(log) == 1  # the stored environment answers
    fresh = _cli(*check, "--fresh", cwd=tmp_path)
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert _runs(log) == 2
    assert _cli(*check, cwd=tmp_path).returncode == 0
    assert _runs(log) == 2  # a run after --fresh re-reads (the settings changed), cache hits
    # --fresh wrote its result back: a run with no environment takes it from the cache
    build = docs / "_build"
    subprocess.run(["rm", "-rf", str(build)], check=True)
    assert _cli(*check, cwd=tmp_path).returncode == 0
    assert _runs(log) == 2

    sphinx = ("-m", "sphinx", "-q", str(docs), str(tmp_path / "html"))
    assert _cli(*sphinx, cwd=tmp_path).returncode == 0
    assert _runs(log) == 2  # a first build: no environment yet, the cache answers
    assert _cli(*sphinx, "-E", cwd=tmp_path).returncode == 0
    assert _runs(log) == 3  # -E: run again
    assert _cli(*sphinx, cwd=tmp_path).returncode == 0
    assert _runs(log) == 3


COUNTING_CLAIM = """\
from specmodel.claims import ClaimContext, claim


@claim(statement="Counted.", scenarios=("fast_zap",), mutants=("no_yield",))
def counted(ctx: ClaimContext) -> None:
    with open({log!r}, "a") as log:
        log.write("ran\\n")
"""


def test_the_same_check_in_two_documents_runs_once(make_app: Any, tmp_path: Path) -> None:
    log = tmp_path / "claim.log"
    doc = "{title}\n=====\n\n.. spec:claim:: counting.counted\n\n   Counted.\n"
    src = _project(
        tmp_path / "twice",
        {
            "counting.py": COUNTING_CLAIM.format(log=str(log)),
            "index.rst": "Index\n=====\n\n.. toctree::\n\n   one\n   two\n",
            "one.rst": doc.format(title="One"),
            "two.rst": doc.format(title="Two"),
        },
    )
    app = make_app("html", srcdir=src, freshenv=True)
    app.build()
    assert [(v.docname, v.status) for v in verdicts(app) if v.kind == "claim"] == [
        ("one", "held"),
        ("two", "held"),
    ]
    assert _runs(log) == 1


_FINGERPRINT = """\
import sys
from specmodel.builtin_claims import builtin_claim_dirs
from specmodel.sphinxext.cache import fingerprint
print(fingerprint())
print([m for m in ("specmodel.claims", "specmodel.explorer") if m in sys.modules])
print([str(p) for p in builtin_claim_dirs()])
"""


def test_the_fingerprint_covers_the_built_in_claims_without_importing_the_model(
    tmp_path: Path,
) -> None:
    # a warm build computes it and runs nothing: importing the model would be a third of it
    run = _cli("-c", _FINGERPRINT, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    _, imported, dirs = run.stdout.splitlines()
    assert imported == "[]"
    # the folders the imported package itself searches
    from specmodel.claims import builtin_package

    assert dirs == repr([str(p) for p in builtin_package().__path__])
    # a source tree used without installing (no site-packages, so no editable finder): the
    # checks/ folder beside the package
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    bare = subprocess.run(
        [sys.executable, "-S", "-c", _FINGERPRINT],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert bare.returncode == 0, bare.stderr
    assert bare.stdout.splitlines()[1:] == ["[]", repr([str(root / "checks")])]
