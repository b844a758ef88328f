"""``python -m vizlog``: the same as the ``vizlog`` command."""

import sys

from vizlog.cli import main

sys.exit(main())
