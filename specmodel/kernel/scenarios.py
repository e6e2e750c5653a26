"""Named scenarios: the threads, the initial VM and the bounds of each exploration.

``fast_zap``: one memslot deletion runs ``kvm_mmu_zap_all_fast()`` on a shadow-MMU VM whose
vCPUs share one root with ``pages - 1`` children, while the vCPUs handle requests, reload
roots, enter the guest and fault. ``fast_zap_tdp``: the same VM on the TDP MMU.
``concurrent_zaps``: two memslot deletions race. ``page_reclaim``: nested paging under the
page budget (reclaim.py). ``fast_zap_nested``: a fast zap while nested vCPUs pin roots that
are also children (reclaim.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from specmodel.errors import UnknownNameError
from specmodel.kernel import BATCH_ZAP_PAGES
from specmodel.kernel.config import Config
from specmodel.kernel.guest_pt import GUEST_PT_WRITES
from specmodel.kernel.mutants import Switches, switches_for
from specmodel.kernel.program import Program
from specmodel.kernel.reclaim import FAST_ZAP_NESTED, PAGE_RECLAIM
from specmodel.kernel.scenario import Param, ParamValue, Scenario
from specmodel.kernel.shrinker import shrinker_initial, shrinker_step
from specmodel.kernel.state import (
    LINK_ACTIVE,
    LINK_NONE,
    LINK_TDP_ROOTS,
    NO_PAGE,
    Page,
    Pages,
    State,
    empty_vm,
)
from specmodel.kernel.vcpu import ROOT_GFN, child_role, root_role, vcpu_initial, vcpu_step
from specmodel.kernel.zap import ZAPPER_INITIAL, zapper_step

COMMON = (
    Param("vcpus", 1, 0, 3, "vCPUs running the guest"),
    Param("pages", 4, 1, 32, "shadow pages present before the zap (root included)"),
    Param("batch", BATCH_ZAP_PAGES, 1, 64, "BATCH_ZAP_PAGES"),
    Param("preemptible", True, 0, 1, "yield when mmu_lock is contended (else: need_resched)"),
    Param("entries", 2, 1, 4, "guest entries per vCPU"),
    Param("faults", 1, 1, 3, "distinct gfns a vCPU may fault on"),
    Param("shrinker", 0, 0, 2, "runs of the MMU shrinker (mmu_shrink_scan), each at any time"),
    Param("prev_roots", 0, 0, 1, "a cached previous root per vCPU (kvm_mmu_new_pgd), pinned"),
)


def _fast_zap_build(
    p: Mapping[str, ParamValue], sw: Switches, *, zappers: int, tdp_mmu: bool
) -> tuple[Config, State, tuple[Program, ...], tuple[str, ...]]:
    vcpus, pages = int(p["vcpus"]), int(p["pages"])
    zapper_tids = tuple(range(zappers))
    vcpu_tids = tuple(range(zappers, zappers + vcpus))
    shrinker = int(p["shrinker"])
    shrinker_tids = (zappers + vcpus,) if shrinker else ()
    width = max(pages, int(p["faults"]) + 1)
    cfg = Config(
        switches=sw,
        batch=int(p["batch"]),
        preemptible=bool(p["preemptible"]),
        tdp_mmu=tdp_mmu,
        vcpu_tids=vcpu_tids,
        zapper_tids=zapper_tids,
        shrinker_tids=shrinker_tids,
        fault_gfns=int(p["faults"]),
        entries=int(p["entries"]),
        spt_width=width,
    )
    rrole = root_role(cfg)
    # The root (sp#0) was created first, so it is the oldest page; children follow, the one
    # for gfn 1 (which vCPUs fault on) last, so it is the last page the zap reaches.
    children = tuple(range(pages - 1, 0, -1))
    spt = tuple(pages - i if 0 < i < pages else NO_PAGE for i in range(width))
    if tdp_mmu:
        root = Page(
            gfn=ROOT_GFN,
            role=rrole,
            gen=0,
            root_count=vcpus + 1,
            parents=(),
            spt=spt,
            tdp=True,
            scheduled=False,
            link=LINK_TDP_ROOTS,
            freed=False,
            epoch=0,
        )
    else:
        root = Page(
            gfn=ROOT_GFN,
            role=rrole,
            gen=0,
            root_count=vcpus,
            parents=(),
            spt=spt,
            tdp=False,
            scheduled=False,
            link=LINK_ACTIVE,
            freed=False,
            epoch=0,
        )
    page_list = [root]
    for gfn in children:
        page_list.append(
            Page(
                gfn=gfn,
                role=child_role(rrole),
                gen=0,
                root_count=0,
                parents=((0, gfn),),
                spt=(NO_PAGE,) * width,
                tdp=tdp_mmu,
                scheduled=False,
                link=LINK_NONE if tdp_mmu else LINK_ACTIVE,
                freed=False,
                epoch=0,
            )
        )
    prev: tuple[int, ...] = ()
    if int(p["prev_roots"]) and not tdp_mmu and vcpus:
        # The root every vCPU switched away from (kvm_mmu_new_pgd() keeps it in
        # prev_roots[0], pinned): a page for another gfn, older than the current root.
        prev = (len(page_list),)
        page_list.append(root._replace(gfn=width, root_count=vcpus, spt=(NO_PAGE,) * width))
    active = () if tdp_mmu else tuple(reversed(range(pages))) + prev
    vm = empty_vm(active=active, tdp_roots=(0,) if tdp_mmu else (), n_used_mmu_pages=len(active))
    threads = tuple([ZAPPER_INITIAL] * zappers) + tuple(
        vcpu_initial(0, int(p["entries"]), prev) for _ in vcpu_tids
    )
    names = (("zapper",) if zappers == 1 else tuple(f"zapper{i}" for i in range(zappers))) + tuple(
        f"vcpu{i}" for i in range(vcpus)
    )
    programs: tuple[Program, ...] = (zapper_step,) * zappers + (vcpu_step,) * vcpus
    if shrinker:
        threads = (*threads, shrinker_initial(shrinker))
        names = (*names, "shrinker")
        programs = (*programs, shrinker_step)
    return cfg, State(vm, Pages(page_list), threads), programs, names


def _scenarios() -> dict[str, Scenario]:
    concurrent_params = tuple(
        dataclasses.replace(p, default=0) if p.name == "vcpus" else p for p in COMMON
    )
    return {
        s.name: s
        for s in (
            Scenario(
                "fast_zap",
                "a memslot deletion zaps a shadow-MMU VM while vCPUs run",
                COMMON,
                lambda p, sw: _fast_zap_build(p, sw, zappers=1, tdp_mmu=False),
            ),
            Scenario(
                "fast_zap_tdp",
                "the same on the TDP MMU",
                COMMON,
                lambda p, sw: _fast_zap_build(p, sw, zappers=1, tdp_mmu=True),
            ),
            Scenario(
                "concurrent_zaps",
                "two memslot deletions race",
                concurrent_params,
                lambda p, sw: _fast_zap_build(p, sw, zappers=2, tdp_mmu=False),
            ),
            PAGE_RECLAIM,
            FAST_ZAP_NESTED,
            GUEST_PT_WRITES,
        )
    }


SCENARIOS: dict[str, Scenario] = {}


def get_scenario(name: str) -> Scenario:
    if not SCENARIOS:
        SCENARIOS.update(_scenarios())
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise UnknownNameError("scenario", name, SCENARIOS)
    return scenario


def scenario_names() -> tuple[str, ...]:
    """Names of the scenarios ``explore()`` runs."""
    get_scenario("fast_zap")
    return tuple(SCENARIOS)


def instantiate(
    name: str, mutants: tuple[str, ...], params: Mapping[str, object]
) -> tuple[Scenario, dict[str, ParamValue], Config, State, tuple[Program, ...], tuple[str, ...]]:
    scenario = get_scenario(name)
    sw = switches_for(mutants)
    resolved = scenario.resolve(params)
    cfg, state, programs, names = scenario.build(resolved, sw)
    return scenario, resolved, cfg, state, programs, names
