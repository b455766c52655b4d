#!/usr/bin/env python3
"""A by-hand check of docs/deploy.md's load balancers (not a test: needs nginx and haproxy).

Starts a primary, a replica and three Sentinels, two `vigie serve` processes on
127.0.0.1:28765 and :28766, nginx (nginx.conf) and HAProxy (haproxy.cfg)
with TLS on :18443 and :18444, then opens sessions through each: hello,
alert.submit, alert.ack, and GET /healthz and /metrics.

    apt-get install nginx haproxy   # once
    cd scripts/proxy_check && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem \
        -out cert.pem -days 2 -subj /CN=vigie.test && cat cert.pem key.pem > haproxy.pem
    .venv/bin/python scripts/proxy_check/check.py

The configurations name /tmp/ha-proxy/: copy this folder there first
(`cp -r scripts/proxy_check /tmp/ha-proxy`).
"""

import asyncio
import json
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, "scripts")
import websockets
from bench.replicated import replicated_redis
from bench.system import HubProcess

from hub.core.tokens import issue_token

ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


async def session(url, secret, n):
    async with websockets.connect(url, subprotocols=["vigie.v1.json"], ssl=ctx) as ws:
        await ws.send(
            json.dumps(
                {
                    "type": "hello",
                    "token": issue_token(
                        secret, sub=f"c{n}", role="citizen", tenant="narbonne", ttl_s=600
                    ),
                }
            )
        )
        welcome = json.loads(await ws.recv())
        await ws.send(
            json.dumps(
                {
                    "type": "alert.submit",
                    "ref": f"r{n}",
                    "category": "noise",
                    "lat": 43.1839,
                    "lon": 3.0042,
                }
            )
        )
        while True:
            m = json.loads(await ws.recv())
            if m.get("ref") == f"r{n}":
                return welcome["type"], m["type"]


def get(url):
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


with replicated_redis(Path(tempfile.mkdtemp())) as topo:
    hubs = [HubProcess(topo.url, port=p) for p in (28765, 28766)]
    hubs[1].secret = hubs[0].secret
    for h in hubs:
        h.start()
    nginx = subprocess.Popen(["nginx", "-c", "/tmp/ha-proxy/nginx.conf", "-g", "daemon off;"])
    haproxy = subprocess.Popen(["haproxy", "-f", "/tmp/ha-proxy/haproxy.cfg"])
    time.sleep(5)
    try:
        for name, port in (("nginx", 18443), ("haproxy", 18444)):
            print(
                name,
                "healthz",
                get(f"https://127.0.0.1:{port}/healthz"),
                "metrics",
                get(f"https://127.0.0.1:{port}/metrics"),
            )
            for n in range(4):
                print(
                    name,
                    asyncio.run(
                        session(
                            f"wss://127.0.0.1:{port}/ws",
                            hubs[0].secret,
                            n + (10 if name == "haproxy" else 0),
                        )
                    ),
                )
        print("sessions per hub", [h.health()["sessions"] for h in hubs])
    finally:
        nginx.terminate()
        haproxy.terminate()
        nginx.wait()
        haproxy.wait()
        for h in hubs:
            h.stop()
