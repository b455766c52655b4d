"""Shared machinery of the benchmarks in scripts/bench_*.py.

Not part of the installed package: the benchmark scripts put ``scripts/`` on
``sys.path`` (Python does so for the script's own folder) and import it as
``bench``. Modules:

* ``system``   — the processes under test: embedded Redis, the hub as a real
  ``vigie serve`` subprocess, CPU and RSS read from ``/proc``, open-files limit;
* ``wsclient`` — a lean RFC 6455 client (one asyncio Protocol per socket, no
  task per connection), so one load-generator process can hold thousands of
  sockets and still time what it receives;
* ``frames``   — its RFC 6455 framing without I/O (handshake, pings, closes,
  fragments), which the tests' raw clients use too;
* ``town``     — the simulated town (citizens, patrol units, consoles) spread
  over several worker processes, and the coordinator that drives them;
* ``report``   — percentiles, the table, the JSON file, the optional plot and
  the optional py-spy profile summary.
"""
