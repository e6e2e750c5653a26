"""The SVG timeline: one lane per thread, holds, waits and modes, self-contained."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from specmodel.explorer.timeline import lock_family, render_svg, thread_states
from specmodel.sphinxext.records import StepRecord, TraceRecord

SVG = "{http://www.w3.org/2000/svg}"

TRACE = TraceRecord(
    threads=("zapper", "vcpu0"),
    steps=(
        StepRecord(1, "zapper", "mutex_lock(&kvm->slots_lock)", ("slots_lock",)),
        StepRecord(2, "zapper", "write_lock(&kvm->mmu_lock)", ("slots_lock", "mmu_lock(write)")),
        StepRecord(
            3, "vcpu0", "read_lock(&kvm->mmu_lock)", (), "mmu_lock(read)", "OUTSIDE_GUEST_MODE"
        ),
        StepRecord(4, "zapper", "write_unlock(&kvm->mmu_lock)", ("slots_lock",)),
        StepRecord(5, "vcpu0", "enter guest <sp#1>", (), None, "IN_GUEST_MODE"),
    ),
    text="",
)


def _titles(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [t.text or "" for t in root.iter(f"{SVG}title")]


def test_states_carry_over_while_a_thread_does_not_run() -> None:
    states = thread_states(TRACE)
    assert [s.holds for s in states["zapper"]] == [
        ("slots_lock",),
        ("slots_lock", "mmu_lock(write)"),
        ("slots_lock", "mmu_lock(write)"),
        ("slots_lock",),
        ("slots_lock",),
    ]
    assert [s.waits for s in states["vcpu0"]] == [
        None,
        None,
        "mmu_lock(read)",
        "mmu_lock(read)",
        None,
    ]
    assert states["vcpu0"][4].mode == "IN_GUEST_MODE"


def test_svg_draws_lanes_holds_waits_modes_and_numbered_steps() -> None:
    svg = render_svg(TRACE, title="t")
    titles = _titles(svg)
    assert "zapper holds slots_lock (steps 1-5)" in titles
    assert "zapper holds mmu_lock(write) (steps 2-3)" in titles
    assert "vcpu0 waits for mmu_lock(read) (steps 3-4)" in titles
    assert "vcpu0: IN_GUEST_MODE (steps 5-5)" in titles
    assert "3. vcpu0: read_lock(&kvm->mmu_lock)" in titles
    lanes = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text") if t.get("font-weight")]
    assert lanes == ["zapper", "vcpu0"]


def test_svg_is_self_contained() -> None:
    """No external reference: renders in HTML built without network."""
    svg = render_svg(TRACE)
    assert "href" not in svg and "<image" not in svg and "@import" not in svg
    assert svg.count("http://") == 1  # the SVG namespace only


def test_lock_modes_share_one_row() -> None:
    assert lock_family("mmu_lock(write)") == lock_family("mmu_lock(read)") == "mmu_lock"
