"""Moved to `haven_crypto.receipts` (the SDK verifies receipts offline); this path stays.

`shared.receipts` is the very same module object, so patching or private names behave as before.
"""

import sys

from haven_crypto import receipts as _moved
from haven_crypto.receipts import *  # noqa: F403  (for type checkers and readers)

sys.modules[__name__] = _moved
