"""``python -m bench.load``: how much shopper traffic Aisle holds on this machine (a benchmark, not a test).

Starts every service (the Procfile's commands) on free ports over a scratch data dir with the demo
catalog, knowledge base and orders, then runs simulated shoppers through the widget's WebSocket
gateway: varied scripted multi-turn conversations (search → refine → details, FAQ, order status with
verification, recommendations, chit-chat, asking for a person) with 1–3 s of think time between
messages. The number of shoppers steps up until the p95 turn latency (message sent → the bot's last
reply of that turn) passes 250 ms or errors appear. Per step: turns/s, p50/p95/p99, errors, and each
service's CPU and memory. Then the same conversations, stepped the same way, against the stock Rasa
peer (bench/load_peer.py) through Rasa's REST channel. Capacity = the highest turns/s of a step with
p95 ≤ 250 ms and no errors.

Before the steps, with the services started and nobody chatting: each service's resident memory (idle),
and the latency of the NLU server's ``/model/parse`` and of the action server's search action, called
one at a time over kept connections as Rasa calls them (the search with the entities the NLU found).

``--soak SECONDS --shoppers N`` instead holds N shoppers for that long and samples every service's
memory, to show whether it stays flat. Each kind of run updates its own part of reports/load.json;
reports/load.md and reports/load.svg are rendered from all of it.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import rasa_sdk
import yaml

from aisle.config import REPO_ROOT, Settings
from aisle.internal_auth import bearer_headers
from bench import load_peer
from bench.machine import cpu_description
from tests.e2e_stack import Stack, free_port
from tests.servers import PostgresServer, RedisServer

REPORTS = REPO_ROOT / "reports"
DEMO_CATALOG = REPO_ROOT / "catalog" / "demo" / "products.jsonl"
P95_LIMIT_MS = 250.0
TURN_TIMEOUT_S = 20.0
TRACE_HINTS = ("Traceback", "Exception:", "Error:")
SCRIPTS = [
    ["hi", "show me hiking boots", "any cheaper ones?", "is the first one waterproof?", "thanks"],
    ["do you ship to canada?", "how long do I have to return something?", "what payment methods do you accept?"],
    ["where is my order 10001?", "alex.morgan@example.com", "thanks, bye"],
    ["what would you recommend for a coffee lover?", "anything similar to the second one?", "add it to my cart",
     "what's in my cart?"],
    ["hello", "are you a bot?", "show me wireless headphones under $100", "only black ones", "show me more"],
    ["I need a desk for my home office", "sort by price", "compare the first two", "goodbye"],
]


def nearest_rank(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of sorted values by nearest rank (0.0 for none)."""
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


@dataclass
class Tally:
    """What the shoppers of one step (or soak, or fault run) saw."""

    turns: int = 0
    errors: int = 0
    notices: int = 0  # honest "one moment" notices (a dependency down or slow)
    reconnects: int = 0
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    stack_traces: list[str] = field(default_factory=list, repr=False)  # shown to a shopper: never wanted
    sent: set[tuple[str, str]] = field(default_factory=set, repr=False)  # (conversation, client_id)
    timeline: list[tuple[float, str, float | None]] | None = None  # (when, outcome, ms), for fault runs

    def count(self, start: float, outcome: str, stop_at: float) -> None:
        """One turn's outcome: "ok", "notice" (an honest "one moment") or "error"."""
        now = time.monotonic()
        if now < stop_at:
            self.turns += 1
            self.errors += outcome != "ok"
            self.notices += outcome == "notice"
            self.latencies_ms.append((now - start) * 1000)
        if self.timeline is not None:
            self.timeline.append((start, outcome, (now - start) * 1000))

    def dropped(self) -> None:
        self.errors += 1
        if self.timeline is not None:
            self.timeline.append((time.monotonic(), "dropped", None))

    def summary(self, seconds: float) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        return {"seconds": round(seconds, 1), "turns": self.turns, "turns_per_s": round(self.turns / seconds, 2),
                "errors": self.errors, "p50_ms": round(nearest_rank(lat, 0.50), 1),
                "p95_ms": round(nearest_rank(lat, 0.95), 1), "p99_ms": round(nearest_rank(lat, 0.99), 1),
                "mean_ms": round(statistics.fmean(lat), 1) if lat else 0.0}


async def read_ws_turn(ws: aiohttp.ClientWebSocketResponse, tally: Tally) -> str:
    """Frames until the bot's turn ends: "ok", "notice" (an honest "one moment"), "error", or "silent"
    (the turn ended without any reply)."""
    outcome, answered = "ok", False
    while True:
        frame = await ws.receive_json(timeout=TURN_TIMEOUT_S)
        shown = frame.get("message", "") if frame["type"] == "error" else (frame.get("message") or {}).get("text", "")
        if any(hint in str(shown) for hint in TRACE_HINTS):
            tally.stack_traces.append(str(shown))
        if frame["type"] == "error":
            outcome = "error"
        elif frame["type"] == "message" and frame["message"]["author"] != "shopper":
            answered = True
            if frame["message"].get("notice") == "unavailable" and outcome == "ok":
                outcome = "notice"
        if frame == {"type": "typing", "on": False} or frame.get("mode") == "waiting":
            return outcome if answered or outcome == "error" else "silent"


async def ws_conversation(http: aiohttp.ClientSession, url: str, script: list[str], tally: Tally, stop_at: float,
                          rng: random.Random, resilient: bool) -> None:
    """One conversation over the widget's protocol. ``resilient`` behaves like the widget after a dropped
    connection: reconnect to the same conversation and resend what the history does not have yet."""
    pending = [(text, uuid.uuid4().hex) for text in script]
    conversation: str | None = None
    token: str | None = None  # the server-issued token that reopens the conversation
    while pending and time.monotonic() < stop_at:
        try:
            async with http.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
                await ws.send_json({"type": "hello", "token": token})
                welcome = await ws.receive_json(timeout=TURN_TIMEOUT_S)
                conversation, token = welcome["conversation_id"], welcome["token"]
                stored = {m.get("client_id") for m in welcome["history"]}
                while pending:
                    text, client_id = pending[0]
                    if client_id in stored:  # it reached the server before the connection dropped
                        pending.pop(0)
                        continue
                    await asyncio.sleep(rng.uniform(1.0, 3.0))
                    if time.monotonic() >= stop_at:
                        return
                    start = time.monotonic()
                    await ws.send_json({"type": "message", "text": text, "client_id": client_id})
                    tally.sent.add((conversation, client_id))
                    tally.count(start, await read_ws_turn(ws, tally), stop_at)
                    pending.pop(0)
        except (aiohttp.ClientError, asyncio.TimeoutError, TypeError, ValueError, KeyError):
            tally.dropped()
            if not resilient:
                return
            tally.reconnects += 1
            await asyncio.sleep(1.0)


async def rest_conversation(http: aiohttp.ClientSession, url: str, script: list[str], tally: Tally,
                            stop_at: float, rng: random.Random) -> None:
    """The same conversation through Rasa's REST channel (the stock peer)."""
    sender = f"peer-{uuid.uuid4().hex[:12]}"
    for text in script:
        await asyncio.sleep(rng.uniform(1.0, 3.0))
        if time.monotonic() >= stop_at:
            return
        start = time.monotonic()
        try:
            async with http.post(url, json={"sender": sender, "message": text},
                                 timeout=aiohttp.ClientTimeout(total=TURN_TIMEOUT_S)) as resp:
                ok = resp.status == 200 and isinstance(await resp.json(), list)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            ok = False
        tally.count(start, "ok" if ok else "error", stop_at)


Conversation = Callable[[aiohttp.ClientSession, list[str], Tally, float, random.Random], Awaitable[None]]


def widget_conversations(web_url: str, resilient: bool = False) -> Conversation:
    url = web_url.replace("http://", "ws://") + "/ws"
    return lambda http, script, tally, stop_at, rng: ws_conversation(http, url, script, tally, stop_at, rng,
                                                                     resilient)


def rest_conversations(rasa_url: str) -> Conversation:
    url = f"{rasa_url}/webhooks/rest/webhook"
    return lambda http, script, tally, stop_at, rng: rest_conversation(http, url, script, tally, stop_at, rng)


async def shoppers(conversation: Conversation, count: int, tally: Tally, stop_at: float, seed: int,
                   scripts: list[list[str]] = SCRIPTS) -> None:
    async def one(rng: random.Random) -> None:
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < stop_at:
                await conversation(http, rng.choice(scripts), tally, stop_at, rng)

    master = random.Random(seed)
    await asyncio.gather(*(one(random.Random(master.random())) for _ in range(count)))


def sample(processes: dict[str, psutil.Process]) -> dict[str, tuple[float, float]]:
    """CPU seconds and resident MB of each service, its children included (keepalive restarts too)."""
    out = {}
    for name, proc in processes.items():
        cpu = rss = 0.0
        for p in [proc, *proc.children(recursive=True)]:
            try:
                times = p.cpu_times()
                cpu, rss = cpu + times.user + times.system, rss + p.memory_info().rss / 2**20
            except psutil.NoSuchProcess:
                pass
        out[name] = (cpu, rss)
    return out


async def run_step(processes: dict[str, psutil.Process], conversation: Conversation, count: int,
                   seconds: float, seed: int) -> dict[str, Any]:
    tally, before, start = Tally(), sample(processes), time.monotonic()
    await shoppers(conversation, count, tally, start + seconds, seed)
    elapsed, after = time.monotonic() - start, sample(processes)
    return {"shoppers": count, **tally.summary(elapsed), "services": {
        name: {"cpu_percent": round(100 * (after[name][0] - before[name][0]) / elapsed, 1),
               "rss_mb": round(after[name][1], 1)} for name in processes}}


async def stepped(processes: dict[str, psutil.Process], conversation: Conversation, steps: list[int],
                  seconds: float, label: str) -> list[dict[str, Any]]:
    await run_step(processes, conversation, 2, 15, seed=0)  # warm-up: caches, indexes, first model calls
    results = []
    for count in steps:
        results.append(await run_step(processes, conversation, count, seconds, seed=count))
        print(label, json.dumps({k: v for k, v in results[-1].items() if k != "services"}), flush=True)
        if results[-1]["p95_ms"] > P95_LIMIT_MS or results[-1]["errors"]:
            break
    return results


def part_name(args: argparse.Namespace) -> str:
    if not args.postgres:
        return "aisle"
    return "aisle-postgres" + (f"-{args.rasa_servers}-rasa" if args.rasa_servers > 1 else "")


def capacity(steps: list[dict[str, Any]]) -> float:
    return max((s["turns_per_s"] for s in steps if s["p95_ms"] <= P95_LIMIT_MS and s["errors"] == 0), default=0.0)


async def soak(processes: dict[str, psutil.Process], conversation: Conversation, count: int,
               seconds: float, every_s: float = 30.0) -> dict[str, Any]:
    """Hold ``count`` shoppers for ``seconds``; memory of every service sampled every ``every_s``."""
    tally, start = Tally(), time.monotonic()
    samples: list[dict[str, Any]] = []

    async def watch() -> None:
        while time.monotonic() < start + seconds:
            samples.append({"t_s": round(time.monotonic() - start), "turns": tally.turns,
                            "rss_mb": {n: round(v[1], 1) for n, v in sample(processes).items()}})
            await asyncio.sleep(every_s)

    await asyncio.gather(shoppers(conversation, count, tally, start + seconds, seed=count), watch())
    samples.append({"t_s": round(time.monotonic() - start), "turns": tally.turns,
                    "rss_mb": {n: round(v[1], 1) for n, v in sample(processes).items()}})
    warm = next((s for s in samples if s["t_s"] >= 60), samples[0])  # after the first minute's caches
    growth = {n: round(samples[-1]["rss_mb"][n] - warm["rss_mb"][n], 1) for n in processes}
    return {"shoppers": count, **tally.summary(time.monotonic() - start), "samples": samples,
            "growth_after_first_minute_mb": growth}


SEARCHES = ["show me hiking boots", "show me wireless headphones under $100", "red kettle",
            "I need a desk for my home office", "waterproof jacket for hiking in size M",
            "a gift for a coffee lover", "cheap yoga mat"]


def percentiles(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {"p50_ms": round(statistics.median(ordered), 2), "p95_ms": round(nearest_rank(ordered, 0.95), 2),
            "calls": len(ordered)}


async def service_latency(stack: Stack, rounds: int = 10) -> dict[str, Any]:
    """Unloaded: /model/parse for every scripted message and the search action for every search."""
    cfg = stack.settings
    parse_url, action_url = f"{cfg.nlu_url}/model/parse", f"http://127.0.0.1:{cfg.action_port}/webhook"
    domain = yaml.safe_load((REPO_ROOT / "domain.yml").read_text())
    parse_ms: list[float] = []
    search_ms: list[float] = []
    async with aiohttp.ClientSession(headers=bearer_headers(stack.secret)) as http:
        async def call(url: str, body: dict[str, Any], into: list[float]) -> dict[str, Any]:
            start = time.perf_counter()
            async with http.post(url, json=body) as response:
                answer = await response.json()
            into.append((time.perf_counter() - start) * 1000)
            if response.status != 200:
                raise RuntimeError(f"{url} answered {response.status}: {answer}")
            return answer

        for _ in range(rounds):
            for text in [m for script in SCRIPTS for m in script]:
                await call(parse_url, {"text": text}, parse_ms)
            for text in SEARCHES:
                parsed = await call(parse_url, {"text": text}, [])
                tracker = {"sender_id": "bench-latency", "slots": {}, "latest_message": parsed,
                           "events": [{"event": "user", "text": text, "parse_data": parsed}], "paused": False,
                           "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen"}
                body = {"next_action": "action_search_products", "sender_id": "bench-latency",
                        "version": rasa_sdk.__version__, "tracker": tracker, "domain": domain}
                await call(action_url, body, search_ms)
    return {"model_parse": percentiles(parse_ms), "search_action": percentiles(search_ms)}


def aisle_stack(folder: Path, infra: dict[str, str]) -> Stack:
    return Stack.create(folder, catalog=DEMO_CATALOG, extra_env={
        "AISLE_RATE_PER_IP": "100000/minute", "AISLE_LOG_LEVEL": "WARNING", **infra})


@contextmanager
def infrastructure(production: bool, rasa_ports: list[int]) -> Iterator[dict[str, str]]:
    """Nothing extra (SQLite, in-process state), or real PostgreSQL and Redis on loopback with every
    Rasa server in AISLE_RASA_URL."""
    if not production:
        yield {}
        return
    postgres = PostgresServer.start()
    redis = RedisServer.start()
    try:
        yield {"AISLE_DATABASE_URL": postgres.url, "AISLE_REDIS_URL": redis.url, "AISLE_RASA_PORT": str(rasa_ports[0]),
               "AISLE_RASA_URL": ",".join(f"http://127.0.0.1:{port}" for port in rasa_ports)}
    finally:
        redis.stop()
        postgres.stop()


def processes_of(stack: Stack) -> dict[str, psutil.Process]:
    return {name: psutil.Process(proc.pid) for name, proc in stack.processes.items()}


def wait_for_rasa(url: str, proc: Any, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the stock Rasa peer exited; see its log")
        try:
            with urllib.request.urlopen(f"{url}/", timeout=5) as resp:  # "Hello from Rasa" once loaded
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise RuntimeError("the stock Rasa peer did not start in time")


async def measure(args: argparse.Namespace, save: Callable[[dict[str, Any]], None]) -> None:
    """Runs what ``args`` ask for; ``save`` gets each part as soon as it is measured."""
    rasa_ports = [free_port() for _ in range(args.rasa_servers)]
    with tempfile.TemporaryDirectory() as tmp, infrastructure(args.postgres, rasa_ports) as infra:
        stack = aisle_stack(Path(tmp), infra)
        try:
            for i, port in enumerate(rasa_ports[1:], start=2):
                stack.start("rasa", f"rasa-{i}", {"AISLE_RASA_PORT": str(port)})
            stack.start_all()
            processes, chat = processes_of(stack), widget_conversations(stack.web_url)
            if args.soak:
                save({"soak": await soak(processes, chat, args.shoppers, args.soak)})
                return
            idle = {name: round(rss, 1) for name, (_, rss) in sample(processes).items()}
            save({"services": {"idle_rss_mb": idle, "idle_rss_total_mb": round(sum(idle.values()), 1),
                               **await service_latency(stack)}})
            aisle_steps = await stepped(processes, chat, args.steps, args.seconds, "aisle")
        finally:
            stack.stop_all()
        save({part_name(args): {"steps": aisle_steps, "capacity_turns_per_s": capacity(aisle_steps)}})
        if args.no_peer:
            return
        home = Settings.from_env()  # the peer model is cached in the real data dir, not the scratch one
        model = load_peer.trained_model(home)
        port = free_port()
        peer = load_peer.start_server(home, model, port, Path(tmp) / "peer.log")
        try:
            wait_for_rasa(f"http://127.0.0.1:{port}", peer)
            peer_steps = await stepped({"stock rasa": psutil.Process(peer.pid)},
                                       rest_conversations(f"http://127.0.0.1:{port}"), args.steps, args.seconds,
                                       "peer")
        finally:
            peer.terminate()
            peer.wait(timeout=30)
        save({"peer": {"steps": peer_steps, "capacity_turns_per_s": capacity(peer_steps), "model": model.name}})


PARTS = {
    "aisle": "Aisle (every service, WebSocket gateway, SQLite)",
    "aisle-postgres": "Aisle on PostgreSQL + Redis (--postgres)",
    "aisle-postgres-2-rasa": "Aisle on PostgreSQL + Redis with two Rasa servers (--postgres --rasa-servers 2; "
                             "PostgreSQL's and Redis's own CPU is not in the table)",
    "peer": "Stock Rasa peer (default DIET pipeline and policies, REST channel, responses only)",
    "soak": "",
    "services": "",
}


def markdown(report: dict[str, Any]) -> str:
    lines = ["# Load benchmark", "",
             "Each part names the machine it ran on. Simulated shoppers with 1–3 s think time; a turn is "
             f"a shopper message until the bot's last reply. Capacity: the highest turns/s of a step with p95 ≤ "
             f"{P95_LIMIT_MS:.0f} ms and no errors."]
    for key, title in PARTS.items():
        part = report.get(key)
        if not part or "steps" not in part:
            continue
        names = list(part["steps"][0]["services"]) if part["steps"] else []
        last = part["steps"][-1] if part["steps"] else None
        open_ended = bool(last and last["p95_ms"] <= P95_LIMIT_MS and not last["errors"])
        lines += ["", f"## {title}", "", f"`{part['command']}` ({part['measured_at']}, "
                  f"{part.get('machine', 'machine not recorded')}): "
                  f"capacity **{'at least ' if open_ended else ''}{part['capacity_turns_per_s']} turns/s**"
                  + (" (the last step still met the limit: more shoppers were not tried)." if open_ended else "."), "",
                  "| shoppers | turns/s | p50 ms | p95 ms | p99 ms | errors | "
                  + " | ".join(f"{n} CPU % / MB" for n in names) + " |", "|---" * (6 + len(names)) + "|"]
        for s in part["steps"]:
            lines.append(f"| {s['shoppers']} | {s['turns_per_s']} | {s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} | "
                         f"{s['errors']} | " + " | ".join(f"{s['services'][n]['cpu_percent']} / "
                                                          f"{s['services'][n]['rss_mb']}" for n in names) + " |")
    if services := report.get("services"):
        parse, search = services["model_parse"], services["search_action"]
        lines += ["", "## Each service alone (nobody chatting)", "", f"`{services['command']}` "
                  f"({services['measured_at']}, {services['machine']}); "
                  "one call at a time over kept connections, as Rasa calls them.", "",
                  "| measure | p50 ms | p95 ms | calls |", "|---|---|---|---|",
                  f"| NLU `/model/parse` | {parse['p50_ms']} | {parse['p95_ms']} | {parse['calls']} |",
                  f"| search action (action server webhook) | {search['p50_ms']} | {search['p95_ms']} | "
                  f"{search['calls']} |", "",
                  "Resident memory at idle: "
                  + ", ".join(f"{n} {v} MB" for n, v in services["idle_rss_mb"].items())
                  + f"; **all together {services['idle_rss_total_mb']} MB**."]
    if report.get("aisle") and report.get("peer"):
        ours, theirs = report["aisle"]["capacity_turns_per_s"], report["peer"]["capacity_turns_per_s"]
        peer_last = report["peer"]["steps"][-1] if report["peer"]["steps"] else {}
        peer_open = peer_last.get("p95_ms", P95_LIMIT_MS + 1) <= P95_LIMIT_MS and not peer_last.get("errors")
        ratio = (("at most " if peer_open else "") + f"{ours / theirs:.2f}×") if theirs else "n/a"
        lines += ["", f"**Capacity ratio Aisle / stock Rasa: {ratio}** ({ours} vs {theirs} turns/s). The peer does "
                  "no search, database or recommendation work (its answers are fixed responses) and keeps "
                  "conversations in memory only; Aisle stores every message and tracker event."]
    if report.get("aisle"):
        lines += ["", "![CPU and memory per service](load.svg)"]
    if soak_part := report.get("soak"):
        names = list(soak_part["growth_after_first_minute_mb"])
        lines += ["", "## Memory over a long run", "",
                  f"`{soak_part['command']}` ({soak_part['measured_at']}, "
                  f"{soak_part.get('machine', 'machine not recorded')}): "
                  f"{soak_part['shoppers']} shoppers for "
                  f"{soak_part['seconds']:.0f} s, {soak_part['turns_per_s']} turns/s, p95 {soak_part['p95_ms']} ms, "
                  f"{soak_part['errors']} errors.", "",
                  "| t (s) | turns | " + " | ".join(f"{n} MB" for n in names) + " |", "|---" * (2 + len(names)) + "|"]
        for s in soak_part["samples"]:
            lines.append(f"| {s['t_s']} | {s['turns']} | " + " | ".join(str(s["rss_mb"][n]) for n in names) + " |")
        lines += ["", "Growth after the first minute: " + ", ".join(
            f"{n} {v:+.1f} MB" for n, v in soak_part["growth_after_first_minute_mb"].items()) + "."]
    return "\n".join(lines) + "\n"


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
            colour = colours[c % len(colours)]
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
            parts.append(f'<text x="{x0 + pad + 70 * c}" y="{height + 32}" fill="{colour}">{name}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def machine_line() -> str:
    cpu = cpu_description()
    flags = ", ".join(cpu.get("flags_relevant", []))
    return (f"{cpu.get('Model name', '?')}, {cpu.get('CPU(s)', '?')} CPUs ({flags}), "
            f"onnxruntime {cpu.get('onnxruntime', '?')}, torch {cpu.get('torch', '?')}")


def update_reports(parts: dict[str, Any], command: str) -> None:
    """Merge this run's parts into reports/load.json (other parts are kept) and render load.md/svg."""
    REPORTS.mkdir(exist_ok=True)
    path = REPORTS / "load.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    report = {k: v for k, v in report.items() if k in PARTS}  # older layouts (and the machine) are replaced
    stamp, machine = time.strftime("%Y-%m-%d"), machine_line()
    for key, part in parts.items():
        report[key] = {"command": command, "measured_at": stamp, "machine": machine, **part}
    report["p95_limit_ms"] = P95_LIMIT_MS
    path.write_text(json.dumps(report, indent=2) + "\n")
    if "aisle" in report:
        (REPORTS / "load.svg").write_text(svg_chart(report["aisle"]["steps"]))
    (REPORTS / "load.md").write_text(markdown(report))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=lambda v: [int(x) for x in v.split(",")],
                        default=[10, 20, 40, 60, 80, 90, 100, 110, 120, 140, 160, 180, 200], help="shoppers per step")
    parser.add_argument("--seconds", type=float, default=45, help="length of each step")
    parser.add_argument("--no-peer", action="store_true", help="skip the stock Rasa peer")
    parser.add_argument("--soak", type=float, default=0, help="instead: hold --shoppers for this many seconds")
    parser.add_argument("--shoppers", type=int, default=30, help="shoppers during --soak")
    parser.add_argument("--postgres", action="store_true",
                        help="Aisle on real PostgreSQL + Redis (tests/servers.py) instead of SQLite")
    parser.add_argument("--rasa-servers", type=int, default=1, help="with --postgres: this many Rasa servers")
    args = parser.parse_args()
    if args.rasa_servers > 1 and not args.postgres:
        parser.error("--rasa-servers needs --postgres (several Rasa servers share Redis's lock store)")
    command = "python -m bench.load " + " ".join(sys.argv[1:])
    asyncio.run(measure(args, lambda parts: update_reports(parts, command.strip())))
    print((REPORTS / "load.md").read_text())


if __name__ == "__main__":
    main()
