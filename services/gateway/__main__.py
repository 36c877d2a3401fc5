"""Run the gateway: `python -m services.gateway`."""

import shared.lean  # noqa: F401 - first: see its docstring
from services.gateway.app import main

main()
