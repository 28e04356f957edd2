"""``python -m tests.load``: how much shopper traffic Aisle holds on this machine (a benchmark, not a test).

Starts every service (the Procfile's commands) on free ports over a scratch data dir with the demo
catalog, knowledge base and orders, then runs simulated shoppers through the widget's WebSocket
gateway: varied scripted multi-turn conversations (search → refine → details, FAQ, order status with
verification, recommendations, chit-chat) with 1–3 s of think time between messages. The number of
shoppers steps up until the p95 turn latency (message sent → the bot's last reply of that turn) passes
250 ms or errors appear. Per step: turns/s, p50/p95/p99, errors, and each service's CPU and memory.
Writes reports/load.json, reports/load.md and reports/load.svg (CPU and memory per service per step).
Capacity = the highest sustained turns/s of a step with p95 ≤ 250 ms and no errors.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from aisle.config import REPO_ROOT
from tests.e2e_stack import Stack

REPORTS = REPO_ROOT / "reports"
DEMO_CATALOG = REPO_ROOT / "catalog" / "demo" / "products.jsonl"
P95_LIMIT_MS = 250.0
TURN_TIMEOUT_S = 15.0
SCRIPTS = [
    ["hi", "show me hiking boots", "any cheaper ones?", "is the first one waterproof?", "thanks"],
    ["do you ship to canada?", "how long do I have to return something?", "what payment methods do you accept?"],
    ["where is my order 10001?", "alex.morgan@example.com", "thanks, bye"],
    ["what would you recommend for a coffee lover?", "anything similar to the second one?", "add it to my cart",
     "what's in my cart?"],
    ["hello", "are you a bot?", "show me wireless headphones under $100", "only black ones", "show me more"],
    ["I need a desk for my home office", "sort by price", "compare the first two", "goodbye"],
]


@dataclass
class Step:
    shoppers: int
    seconds: float
    turns: int = 0
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    services: dict[str, dict[str, float]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)

        def pct(q: float) -> float:
            return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else 0.0

        return {"shoppers": self.shoppers, "seconds": round(self.seconds, 1), "turns": self.turns,
                "turns_per_s": round(self.turns / self.seconds, 2), "errors": self.errors,
                "p50_ms": round(pct(0.50), 1), "p95_ms": round(pct(0.95), 1), "p99_ms": round(pct(0.99), 1),
                "mean_ms": round(statistics.fmean(lat), 1) if lat else 0.0, "services": self.services}


async def shopper(url: str, step: Step, stop_at: float, rng: random.Random) -> None:
    """One shopper: a conversation after another until the step ends; latency per turn."""
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < stop_at:
            script = rng.choice(SCRIPTS)
            try:
                async with http.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
                    await ws.send_json({"type": "hello"})
                    await ws.receive_json(timeout=TURN_TIMEOUT_S)
                    for text in script:
                        if time.monotonic() >= stop_at:
                            return
                        await asyncio.sleep(rng.uniform(1.0, 3.0))
                        start = time.monotonic()
                        await ws.send_json({"type": "message", "text": text})
                        failed = False
                        while True:
                            frame = await ws.receive_json(timeout=TURN_TIMEOUT_S)
                            if frame["type"] == "error" or (frame["type"] == "message"
                                                            and frame["message"].get("notice") == "unavailable"):
                                failed = True
                            if frame == {"type": "typing", "on": False} or frame.get("mode") in ("waiting",):
                                break
                        if time.monotonic() < stop_at:
                            step.turns += 1
                            step.errors += failed
                            step.latencies_ms.append((time.monotonic() - start) * 1000)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                step.errors += 1


def service_processes(stack: Stack) -> dict[str, psutil.Process]:
    return {name: psutil.Process(proc.pid) for name, proc in stack.processes.items()}


def sample(processes: dict[str, psutil.Process]) -> dict[str, tuple[float, float]]:
    """CPU seconds and resident MB of each service, its children included."""
    out = {}
    for name, proc in processes.items():
        family = [proc, *proc.children(recursive=True)]
        cpu = sum(p.cpu_times().user + p.cpu_times().system for p in family if p.is_running())
        rss = sum(p.memory_info().rss for p in family if p.is_running()) / 2**20
        out[name] = (cpu, rss)
    return out


async def run_step(stack: Stack, shoppers: int, seconds: float, seed: int) -> Step:
    url = f"ws://127.0.0.1:{stack.settings.web_port}/ws"
    step = Step(shoppers, seconds)
    processes = service_processes(stack)
    before, start = sample(processes), time.monotonic()
    rng = random.Random(seed)
    stop_at = start + seconds
    await asyncio.gather(*(shopper(url, step, stop_at, random.Random(rng.random())) for _ in range(shoppers)))
    elapsed = time.monotonic() - start
    after = sample(processes)
    step.seconds = elapsed
    step.services = {name: {"cpu_percent": round(100 * (after[name][0] - before[name][0]) / elapsed, 1),
                            "rss_mb": round(after[name][1], 1)} for name in processes}
    return step


def svg_chart(steps: list[dict[str, Any]]) -> str:
    """Two small line charts (CPU %, RSS MB per service over the steps), no plotting library needed."""
    names = list(steps[0]["services"]) if steps else []
    colours = ["#0f766e", "#7c3aed", "#d97706", "#dc2626", "#2563eb"]
    width, height, pad = 360, 200, 36
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="760" height="250" font-family="sans-serif" '
             'font-size="11">']
    for panel, (key, label) in enumerate((("cpu_percent", "CPU % per service"), ("rss_mb", "RSS MB per service"))):
        x0 = panel * (width + 40)
        top = max([s["services"][n][key] for s in steps for n in names] + [1])
        parts.append(f'<text x="{x0 + pad}" y="14">{label} (x: shoppers)</text>')
        parts.append(f'<line x1="{x0 + pad}" y1="{height}" x2="{x0 + width}" y2="{height}" stroke="#999"/>')
        for i, s in enumerate(steps):
            x = x0 + pad + i * (width - pad) / max(len(steps) - 1, 1)
            parts.append(f'<text x="{x:.0f}" y="{height + 14}" text-anchor="middle">{s["shoppers"]}</text>')
        parts.append(f'<text x="{x0 + 2}" y="30">{top:.0f}</text>')
        for c, name in enumerate(names):
            points = " ".join(
                f"{x0 + pad + i * (width - pad) / max(len(steps) - 1, 1):.1f},"
                f"{height - (height - 24) * s['services'][name][key] / top:.1f}" for i, s in enumerate(steps))
            parts.append(f'<polyline fill="none" stroke="{colours[c % len(colours)]}" stroke-width="2" points="{points}"/>')
            parts.append(f'<text x="{x0 + pad + 70 * c}" y="{height + 32}" fill="{colours[c % len(colours)]}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def write_reports(result: dict[str, Any]) -> None:
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "load.json").write_text(json.dumps(result, indent=2) + "\n")
    (REPORTS / "load.svg").write_text(svg_chart(result["steps"]))
    names = list(result["steps"][0]["services"]) if result["steps"] else []
    lines = ["# Load benchmark", "", f"`python -m tests.load {result['args']}` on this machine "
             f"({psutil.cpu_count()} CPUs). Simulated shoppers through the WebSocket gateway, 1–3 s think time, "
             f"{result['step_seconds']} s per step. Capacity (highest turns/s with p95 ≤ {P95_LIMIT_MS:.0f} ms and "
             f"no errors): **{result['capacity_turns_per_s']} turns/s**.", "",
             "| shoppers | turns/s | p50 ms | p95 ms | p99 ms | errors | " + " | ".join(
                 f"{n} CPU % / MB" for n in names) + " |",
             "|---" * (6 + len(names)) + "|"]
    for s in result["steps"]:
        lines.append(f"| {s['shoppers']} | {s['turns_per_s']} | {s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} | "
                     f"{s['errors']} | " + " | ".join(f"{s['services'][n]['cpu_percent']} / {s['services'][n]['rss_mb']}"
                                                      for n in names) + " |")
    lines += ["", "![CPU and memory per service](load.svg)", "",
              "Not measured yet: the stock-Rasa peer baseline, the 10-minute flat-memory run, and fault injection."]
    (REPORTS / "load.md").write_text("\n".join(lines) + "\n")


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack.create(Path(tmp), catalog=DEMO_CATALOG, extra_env={
            "AISLE_RATE_PER_IP": "100000/minute", "AISLE_LOG_LEVEL": "WARNING"})
        try:
            stack.start_all()
            await run_step(stack, 2, 15, seed=0)  # warm-up: caches, indexes, first model calls
            steps = []
            for shoppers in args.steps:
                step = await run_step(stack, shoppers, args.seconds, seed=shoppers)
                steps.append(step.summary())
                print(json.dumps({k: v for k, v in steps[-1].items() if k != "services"}), flush=True)
                if step.summary()["p95_ms"] > P95_LIMIT_MS or step.errors:
                    break
        finally:
            stack.stop_all()
    ok = [s for s in steps if s["p95_ms"] <= P95_LIMIT_MS and s["errors"] == 0]
    write_reports({"args": " ".join(f"--{k} {v if not isinstance(v, list) else ','.join(map(str, v))}"
                                    for k, v in vars(args).items()),
                   "step_seconds": args.seconds, "p95_limit_ms": P95_LIMIT_MS,
                   "capacity_turns_per_s": max((s["turns_per_s"] for s in ok), default=0.0), "steps": steps})
    print((REPORTS / "load.md").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.load", description=__doc__)
    parser.add_argument("--steps", type=lambda v: [int(x) for x in v.split(",")],
                        default=[10, 20, 40, 60, 80, 100, 130, 160], help="shoppers per step")
    parser.add_argument("--seconds", type=float, default=45, help="length of each step")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
