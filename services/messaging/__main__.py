"""Run the messaging service: `python -m services.messaging`."""

from services.messaging.app import main

main()
