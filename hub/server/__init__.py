"""The network edge: Starlette app, WebSocket sessions, fan-out, handlers."""
