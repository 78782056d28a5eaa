"""`python -m bot sandbox` as a newcomer runs it: one URL, Ctrl-C, nothing left."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.process import ROOT, free_port

pytestmark = pytest.mark.slow


async def test_sandbox_prints_one_url_serves_the_bot_and_cleans_up_on_ctrl_c(
    tmp_path: Path,
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    # A real deployment's settings in the folder must not be picked up.
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-real\nALERT_CHANNEL=C0REAL\n")
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(ROOT),
        "TMPDIR": str(temp),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "sandbox", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(
            asyncio.to_thread(proc.stdout.readline), timeout=60
        )
        url = f"http://127.0.0.1:{port}/"
        assert url in line
        assert line.count("http") == 1
        # The database lives in a temporary folder while it runs.
        assert [p.name.startswith("stripe-ops-sandbox-") for p in temp.iterdir()] == [
            True
        ]
        async with aiohttp.ClientSession() as http:
            async with http.get(url) as resp:
                assert resp.status == 200
                assert "stripe-ops sandbox" in await resp.text()
            async with http.get(f"{url}healthz") as resp:
                assert (await resp.json())["database"] == "ok"
            async with http.get(f"{url}sandbox/api/state") as resp:
                state = await resp.json()
        assert {c["name"] for c in state["channels"]} >= {
            "alerts",
            "approvals",
            "disputes",
        }
        assert [p["role"] for p in state["people"]] == [
            "support agent",
            "manager",
            "manager",
        ]

        proc.send_signal(signal.SIGINT)
        out, err = await asyncio.to_thread(proc.communicate, timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert list(temp.iterdir()) == []
