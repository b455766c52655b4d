"""`vigie demo`: a hub, an embedded Redis and a simulated evening in one process.

The demo sits on the hub's side of the line: it starts a hub and reads the
town's configuration, then drives its residents, patrols and operator with the
client library (`clients`) exactly as a town's own app would, over real
WebSockets. The client library imports nothing from here.
"""
