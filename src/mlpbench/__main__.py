"""``python -m mlpbench``: the same as the ``mlpbench`` command (:func:`mlpbench.commands.main`,
which handles Ctrl-C and SIGTERM from its first line)."""

import sys

from mlpbench.commands import main

sys.exit(main())
