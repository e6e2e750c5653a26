"""spec:field :type: and :values: against the field models, by real ``specmodel check`` runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from specmodel.sphinxext.fieldcheck import check_field_options, type_matches
from specmodel.structs.fields import find_field

#: Each entry agrees with the model although written differently from the C declaration.
AGREEING = """\
Fields
======

.. spec:field:: unsync
   :type: bool
   :values: 0, 1

   Written as integers.

.. spec:field:: tdp_mmu_page
   :type: bool
   :values: false, true

   Written as words.

.. spec:field:: hash_link
   :type: struct  hlist_node

   Two spaces inside a struct type.

.. spec:field:: role.level
   :type: unsigned int : 4
   :values: 1..5

   Spaces around the colon of the bit field.

.. spec:field:: spt
   :type: u64*

   No space before the star.

.. spec:field:: shadowed_translation
   :type: u64  *

   Two spaces before the star.

.. spec:field:: clear_spte_count
   :type: int
   :values: -2147483648..2147483647

   A signed int: every value of the C type.

.. spec:field:: role.direct
   :values: False, True

   A one-bit field written as booleans.
"""

#: Each entry contradicts the model; the line of each directive is where it must be reported.
DISAGREEING = """\
Fields
======

.. spec:field:: unsync
   :values: 0, 2

   Two is not a bool.

.. spec:field:: clear_spte_count
   :values: 0..4294967295

   An int is not unsigned.

.. spec:field:: spt
   :type: u32 *

   Wrong element type.

.. spec:field:: role.level
   :type: unsigned int : 3

   Wrong width.

.. spec:field:: unsync
   :values: yes, no

   Not a value list.
"""


def check(tmp_path: Path, text: str) -> tuple[int, list[dict[str, object]]]:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.rst").write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "specmodel", "check", "--format", "json", "docs"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)["verdicts"]


def test_equivalent_spellings_of_types_and_values_agree(tmp_path: Path) -> None:
    """0, 1 and false, true on a bool; C whitespace; signed ranges: every entry holds."""
    status, verdicts = check(tmp_path, AGREEING)
    assert status == 0, verdicts
    assert [v["status"] for v in verdicts] == ["held"] * 8


def test_each_contradiction_is_located_with_its_message(tmp_path: Path) -> None:
    """A wrong set, a signed range taken as unsigned, a wrong type or width: diverged at the
    directive's line, naming what the page states and what the model has."""
    status, verdicts = check(tmp_path, DISAGREEING)
    assert status == 2  # the unparsable :values: is bad input
    found = {(v["line"], v["status"], v["message"]) for v in verdicts}
    assert found == {
        (
            4,
            "diverged",
            "spec:field unsync diverges from KvmMmuPage: :values: states '0, 2'; the model "
            "allows any value of bool (0, 1, or false, true)",
        ),
        (
            9,
            "diverged",
            "spec:field clear_spte_count diverges from KvmMmuPage: :values: states "
            "'0..4294967295'; the model allows any value of int (-2**31..2**31-1)",
        ),
        (
            14,
            "diverged",
            "spec:field spt diverges from KvmMmuPage: :type: states 'u32 *'; the model has 'u64 *'",
        ),
        (
            19,
            "diverged",
            "spec:field role.level diverges from KvmMmuPageRole: :type: states 'unsigned int "
            ": 3'; the model has 'unsigned int:4' (4 bits)",
        ),
        (
            24,
            "error",
            "spec:field unsync: :values: values 'yes, no': 'yes' is not an integer, true or false",
        ),
    }


@pytest.mark.parametrize(
    ("stated", "name", "agrees"),
    [
        ("unsigned int:4", "role.level", True),
        ("unsigned  int :4", "role.level", True),
        ("unsignedint:4", "role.level", False),
        ("u64*", "spt", True),
        ("u64 *", "spt", True),
        ("u64", "spt", False),
        ("unsigned long [ BITS_TO_LONGS( 512 ) ]", "unsync_child_bitmap", True),
        ("4 bits", "role.level", True),
        ("1 bit", "unsync", True),
    ],
)
def test_type_comparison_ignores_only_whitespace_c_ignores(
    stated: str, name: str, agrees: bool
) -> None:
    """Blanks around punctuation do not matter in C; between two words they do."""
    assert type_matches(stated, find_field(name)) is agrees


def test_a_former_member_is_checked_against_its_version() -> None:
    """gfns of ~v5.10 is a gfn_t *, not the u64 * of shadowed_translation."""
    gfns = find_field("gfns", "v5.10")
    assert check_field_options(gfns, {"type": "gfn_t*"}) == []
    assert check_field_options(gfns, {"type": "u64 *"}) == [
        ":type: states 'u64 *'; the model has 'gfn_t *'"
    ]


def _role_doc(kernel: str) -> str:
    from specmodel.structs.fields import field_specs

    entries = "".join(
        f".. spec:field:: {spec.name}\n\n   Documented.\n\n"
        for spec in field_specs("KvmMmuPageRole", kernel)
    )
    return f"Role\n====\n\n.. spec:model:: KvmMmuPageRole\n\n   The role.\n\n{entries}"


def test_coverage_follows_specmodel_kernel(tmp_path: Path) -> None:
    """Every ~v6.9 bit documented: complete for specmodel_kernel = "v6.9", but the default
    (the newest kernel) also requires role.is_mirror, reported at the spec:model line."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.rst").write_text(_role_doc("v6.9"))
    (docs / "conf.py").write_text('extensions = ["specmodel.sphinxext"]\n')

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "specmodel", "check", *args, "docs"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "NO_COLOR": "1"},
        )

    newest = run()
    assert newest.returncode == 1
    assert newest.stdout.splitlines()[0] == (
        "docs/index.rst:4: diverged: model KvmMmuPageRole: field role.is_mirror "
        "(unsigned int:1) is documented nowhere; expected one '.. spec:field:: role.is_mirror' "
        "in the project"
    )
    assert run("--kernel", "v6.9").returncode == 0
    (docs / "conf.py").write_text(
        'extensions = ["specmodel.sphinxext"]\nspecmodel_kernel = "v6.9"\n'
    )
    assert run().returncode == 0


def test_the_field_header_names_the_versions_that_have_the_field() -> None:
    """The line under a spec:field heading says since when a later member exists."""
    from specmodel.sphinxext.fieldcheck import describe_field

    assert describe_field(find_field("external_spt")) == "(KvmMmuPage, void *; since ~v6.14)"
    assert describe_field(find_field("role.level")) == (
        "(KvmMmuPageRole, unsigned int:4 at bit 0; values 1..5)"
    )
    assert describe_field(find_field("gfns", "v5.10")) == "(KvmMmuPage, gfn_t *; until ~v6.0)"
