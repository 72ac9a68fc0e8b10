"""Allow ``python -m mathlearn``."""

import sys

from .cli import main

sys.exit(main())
