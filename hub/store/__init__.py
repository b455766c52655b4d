"""The Redis edge: key names, Lua scripts, the store, the embedded launcher."""
