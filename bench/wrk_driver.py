"""Drive POST /stripe/webhook with `wrk`, a compiled load generator.

The Python driver (aiohttp) tops out near 8-9k requests/s on one core, below
what a bare aiohttp handler serves, so it measures itself rather than the
server. wrk does not: its figures are the server's.

wrk sends what a Lua script builds. Each delivery needs its own body and its
own Stripe-Signature (HMAC-SHA256 over `t.payload`), so the deliveries are
signed in advance with one timestamp (well within Stripe's 300 s tolerance
for a run of seconds) and written one per line, `signature<TAB>body`, to a
file that each wrk thread reads its share of: thread k of n takes lines
k, k+n, k+2n, ... so no two threads send the same event.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

LUA = textwrap.dedent(
    """
    -- Cycles through pre-signed Stripe deliveries, each thread its own share.
    local threads = {}
    local counter = 0

    function setup(thread)
      thread:set("tid", counter)
      table.insert(threads, thread)
      counter = counter + 1
    end

    function init(args)
      local path, nthreads = args[1], tonumber(args[2])
      reqs = {}
      local i = 0
      for line in io.lines(path) do
        if i % nthreads == tid then
          local tab = string.find(line, "\\t", 1, true)
          reqs[#reqs + 1] = wrk.format("POST", "/stripe/webhook", {
            ["Stripe-Signature"] = string.sub(line, 1, tab - 1),
            ["Content-Type"] = "application/json; charset=utf-8",
          }, string.sub(line, tab + 1))
        end
        i = i + 1
      end
      n = 0
      wrapped = 0
    end

    function request()
      n = n + 1
      if n > #reqs then
        n = 1
        wrapped = wrapped + 1
      end
      return reqs[n]
    end

    function done(summary, latency, requests)
      local wrapped_total = 0
      for _, t in ipairs(threads) do
        wrapped_total = wrapped_total + (t:get("wrapped") or 0)
      end
      io.write(string.format(
        'WRK_RESULT {"requests": %d, "duration_us": %d, "status_errors": %d, ' ..
        '"socket_errors": %d, "p50_us": %d, "p99_us": %d, "wrapped": %d}\\n',
        summary.requests, summary.duration, summary.errors.status,
        summary.errors.connect + summary.errors.read + summary.errors.write +
        summary.errors.timeout,
        latency:percentile(50), latency:percentile(99), wrapped_total))
    end
    """
)


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    status_errors: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    # Whether a thread ran out of distinct deliveries and sent some again.
    wrapped: bool

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def find_wrk() -> str | None:
    """wrk's path, installing Debian's package first when we may."""
    found = shutil.which("wrk")
    if found:
        return found
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing Debian's package (apt-get install wrk)")
        done = subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", "wrk"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            subprocess.run(["apt-get", "update"], capture_output=True, check=False)
            subprocess.run(
                ["apt-get", "install", "-y", "--no-install-recommends", "wrk"],
                capture_output=True,
                check=False,
            )
        found = shutil.which("wrk")
    if not found:
        print(
            "WARNING: wrk is not installed (as root: `apt-get install wrk`; "
            "otherwise `sudo apt-get install wrk`). Falling back to the Python "
            "driver, whose own limit (about 8-9k requests/s on one core) may be "
            "what the throughput column shows, not the server's.",
            file=sys.stderr,
        )
    return found


def write_deliveries(
    path: Path, deliveries: list[tuple[str, bytes, dict[str, str]]]
) -> None:
    with path.open("wb") as out:
        for _, body, headers in deliveries:
            if b"\n" in body or b"\t" in body:
                raise ValueError("a body must be one line without tabs")
            out.write(headers["Stripe-Signature"].encode() + b"\t" + body + b"\n")


def run_wrk(
    wrk: str,
    url: str,
    bodies: Path,
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
    core: int | None = None,
) -> WrkResult:
    """Run wrk against `url` for `seconds`; its own figures, as it reports them."""
    script = bodies.with_suffix(".lua")
    script.write_text(LUA)
    args = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-s",
        str(script),
        f"{url}/stripe/webhook",
        "--",
        str(bodies),
        str(threads),
    ]
    if core is not None and shutil.which("taskset"):
        args = ["taskset", "-c", str(core), *args]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    for line in done.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            raw = json.loads(line.removeprefix("WRK_RESULT "))
            return WrkResult(
                requests=raw["requests"],
                seconds=raw["duration_us"] / 1e6,
                status_errors=raw["status_errors"],
                socket_errors=raw["socket_errors"],
                p50_ms=raw["p50_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000,
                wrapped=raw["wrapped"] > 0,
            )
    raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
