"""Run the notification service: `python -m services.notification`."""

from services.notification.app import main

main()
