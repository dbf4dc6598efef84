"""``python -m folk_runtime``: the ``folk-runtime`` command."""

import sys

from folk_runtime.cli import main

sys.exit(main())
