"""``python -m mlpbench``: the same as the ``mlpbench`` command."""

import sys

from mlpbench.cli import main

sys.exit(main())
