"""Run the notification service: `python -m services.notification`."""

import shared.lean  # noqa: F401 - first: see its docstring
from services.notification.app import main

main()
