"""``python -m secure_comprehend``: the same as the ``secure-comprehend`` command."""

from secure_comprehend.cli import main

raise SystemExit(main())
