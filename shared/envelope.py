"""Moved to `haven_crypto.envelope` (the SDK distribution ships it); the server's import path stays.

`shared.envelope` is the very same module object, so patching or private names behave as before.
"""

import sys

from haven_crypto import envelope as _moved
from haven_crypto.envelope import *  # noqa: F403  (for type checkers and readers)

sys.modules[__name__] = _moved
