"""Entry point of ``python -m haven_client``."""

import gc
import sys

from haven_client.cli import main

try:
    code = main()
finally:
    gc.freeze()  # done: the interpreter's last full collection would only slow the exit
sys.exit(code)
