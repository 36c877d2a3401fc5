"""The edge: HTTP views, the WebSocket handler, middlewares, problem+json."""
