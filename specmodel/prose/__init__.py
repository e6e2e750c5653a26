"""Prose checking: the sentences of a kernel mmu.rst's field list, judged against the claims.

``table`` loads the sentence table (``kvm_mmu_page.toml``, shipped with the package: one record
per sentence of the v6.7 field list and of the historical ``mmu_valid_gen`` wordings, each
identified by a hash of its normalised text, never by a copy of it); ``split`` finds the entries
and sentences of an mmu.rst; ``patch`` reads unified diffs, mbox messages and quoted replies;
``judge`` gives each sentence its verdict from the bound claims (cached per model
fingerprint); ``report`` renders them. Nothing read is executed or included.
"""
