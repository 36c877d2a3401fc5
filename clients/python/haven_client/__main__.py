"""Entry point of ``python -m haven_client``."""

import sys

from haven_client.cli import main

sys.exit(main())
