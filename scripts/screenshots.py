#!/usr/bin/env python3
"""The README's screenshots: the three web apps during `vigie demo`, in Chromium.

Starts `vigie demo --plain` on a free port with its own data folder, reads the
three URLs it prints (dev tokens in the fragment), lets the simulated evening
run, and saves docs/img/console.png (1280x800), unit.png (1280x800) and
app.png (390x844), and the console's Statistics view as statistics.png.
Needs /usr/bin/chromium (apt-get install chromium).

    .venv/bin/python scripts/screenshots.py
    .venv/bin/python scripts/screenshots.py --warmup 30 --out /tmp/shots
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from playwright.async_api import Page, async_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CENTRE = {
    "latitude": 43.1839,
    "longitude": 3.0042,
}  # Narbonne: the tablet's and the phone's position
SHOTS = {  # app: viewport
    "console": {"width": 1280, "height": 800},
    "unit": {"width": 1280, "height": 800},
    "app": {"width": 390, "height": 844},
}
TABLET_WAIT_S = 12.0
URL_LINE = re.compile(r"^\s+(console|unit|app)\s+(http://\S+#token=\S+)$")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    p.add_argument("--warmup", type=float, default=20.0, help="seconds of evening before the shots")
    p.add_argument("--lang", default="en", choices=["en", "fr"])
    return p.parse_args(argv)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_urls(demo: subprocess.Popen[str], timeout_s: float = 60) -> dict[str, str]:
    """The app URLs the demo prints at start."""
    assert demo.stdout is not None
    urls: dict[str, str] = {}
    deadline = time.monotonic() + timeout_s
    while len(urls) < len(SHOTS) and time.monotonic() < deadline:
        line = demo.stdout.readline()
        if not line:
            raise RuntimeError(f"the demo stopped (exit {demo.poll()}) before printing its URLs")
        if match := URL_LINE.match(line.rstrip("\n")):
            urls[match[1]] = match[2]
    if len(urls) < len(SHOTS):
        raise RuntimeError(f"the demo printed only {sorted(urls)} in {timeout_s} s")
    return urls


def with_lang(url: str, lang: str) -> str:
    """Put ?lang= before the fragment."""
    page, _, fragment = url.partition("#")
    return f"{page}?lang={lang}#{fragment}"


STATS_BUTTON = {"en": "Statistics", "fr": "Statistiques"}


async def shoot(urls: dict[str, str], out: Path, warmup_s: float, lang: str) -> None:
    """Open every app, let the evening run, then take the screenshots.

    The tablet opens last: the demo's operator offers incidents to any available
    unit, and the console's shot should show the simulated patrols at work.
    """
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM)

        async def open_page(app: str) -> Page:
            context = await browser.new_context(
                viewport=SHOTS[app],  # type: ignore[arg-type]
                geolocation=CENTRE,
                permissions=["geolocation"],
                locale="en-GB" if lang == "en" else "fr-FR",
                timezone_id="Europe/Paris",
            )
            page = await context.new_page()
            await page.goto(with_lang(urls[app], lang))
            return page

        async def save(app: str, page: Page) -> None:
            path = out / f"{app}.png"
            await page.screenshot(path=str(path))
            print(f"{path}: {path.stat().st_size // 1024} KiB")

        first = {app: await open_page(app) for app in ("console", "app")}
        await asyncio.sleep(warmup_s)
        for app, page in first.items():
            await save(app, page)
        # The console's Statistics view, on the demo's seeded weeks.
        await first["console"].get_by_role("button", name=STATS_BUTTON[lang]).click()
        await first["console"].wait_for_selector("#stats-incidents")
        await save("statistics", first["console"])
        await first["console"].keyboard.press("Escape")
        tablet = await open_page("unit")
        await asyncio.sleep(TABLET_WAIT_S)  # long enough for the operator to offer it something
        await save("unit", tablet)
        await browser.close()


def main(argv: list[str] | None = None) -> int:
    """Run the demo, take the shots, stop the demo."""
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data:
        command = [sys.executable, "-m", "hub", "demo", "--plain", "--port", str(free_port())]
        demo = subprocess.Popen(
            [*command, "--data-dir", str(Path(data) / "demo")],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        try:
            urls = read_urls(demo)
            # The demo keeps printing its journal: drain it so it never blocks on a full pipe.
            threading.Thread(target=lambda: [None for _ in demo.stdout or ()], daemon=True).start()
            asyncio.run(shoot(urls, args.out, args.warmup, args.lang))
        finally:
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(30)
            except subprocess.TimeoutExpired:
                demo.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
