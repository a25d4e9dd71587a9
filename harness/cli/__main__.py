"""``python -m harness.cli``: the ``hartbeat`` command."""

import sys

from harness.cli import main

sys.exit(main())
