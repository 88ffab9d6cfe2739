"""``python -m typedrl``: the ``typedrl`` command (:func:`typedrl.cli.main`), for launchers that run modules."""

import sys

from typedrl.cli import main

sys.exit(main())
