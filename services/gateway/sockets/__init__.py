"""This replica's open WebSockets: admission, frame budget, sockets, registry, router."""
