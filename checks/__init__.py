"""Claims: the behavioural sentences of the docs as executable checks.

Each module declares claims with ``specmodel.claims.claim``; a claim's id is its import
path (``checks.fast_zap.generation_only_0_or_1``), which is how the docs cite it.
"""
