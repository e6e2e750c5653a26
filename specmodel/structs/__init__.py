"""Pydantic models of the kernel structures: ``struct kvm_mmu_page`` and its role union.

``bits`` declares widths and C types once; ``fields`` derives the field list the docs, lint
and coverage read; ``renames`` records the members the kernel renamed.
"""
