"""Moved to `haven_crypto.crypto` (the SDK distribution ships it); the server's import path stays.

`shared.crypto` is the very same module object, so patching or private names behave as before.
"""

import sys

from haven_crypto import crypto as _moved
from haven_crypto.crypto import *  # noqa: F403  (for type checkers and readers)

sys.modules[__name__] = _moved
