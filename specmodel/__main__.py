"""``python -m specmodel``: the same as the ``specmodel`` console script."""

from specmodel.cli import main

raise SystemExit(main())
