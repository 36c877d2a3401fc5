"""Run the messaging service: `python -m services.messaging`."""

import shared.lean  # noqa: F401 - first: see its docstring
from services.messaging.app import main

main()
