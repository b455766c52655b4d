"""The sans-I/O core: pure, synchronous logic with no asyncio, Redis or sockets.

A test (tests/unit/test_core_purity.py) checks that nothing in this package
imports asyncio, redis, starlette, uvicorn or websockets.
"""
