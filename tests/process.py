"""Run the real bot (`python -m bot`) as a child process for end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from tests.support import (
    BOT_TOKEN,
    CHANNELS,
    SIGNING_SECRET,
    STRIPE_KEY,
    WEBHOOK_SECRET,
)

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bot_env(
    *, db_url: str, slack_url: str, stripe_url: str, port: int, **extra: str
) -> dict[str, str]:
    """The environment of a deployed bot, and nothing else of ours."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k in ("PATH", "HOME", "LANG", "TMPDIR", "SYSTEMROOT")
    }
    env.update(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack_url,
        STRIPE_API_KEY=STRIPE_KEY,
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        STRIPE_API_BASE=stripe_url,
        DATABASE_URL=db_url,
        HOST="127.0.0.1",
        PORT=str(port),
        MANAGER_USER_IDS="U_MANAGER,U_MANAGER2",
        **CHANNELS,
    )
    # The bot of this checkout, whatever else is installed.
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


class BotProcess:
    """`python -m bot` in a directory of its own, as an operator starts it."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.port = int(env["PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = cwd / "bot.log"

    async def start(self, timeout: float = 30.0) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot"],
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = asyncio.get_running_loop().time() + timeout
        async with aiohttp.ClientSession() as session:
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError(f"bot exited early:\n{self.output()}")
                try:
                    async with session.get(f"{self.url}/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(
                        f"bot did not become healthy:\n{self.output()}"
                    )
                await asyncio.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no graceful anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def post(self, path: str, data: bytes, headers: dict[str, str]) -> Any:
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.url}{path}", data=data, headers=headers) as resp,
        ):
            return resp.status, await resp.text()
