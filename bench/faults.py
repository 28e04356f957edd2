"""``python -m bench.faults``: faults injected while shoppers chat (a benchmark run, not a test).

Every service runs under its keepalive (the Procfile's commands) with widget-like shoppers (the load
benchmark's conversations plus asking for a person; they reconnect and resend like the widget). Then,
in turn: each service's process is killed with SIGKILL (NLU, actions, Rasa, web app) and must come back
by itself; and the NLU server is frozen with SIGSTOP for a while (a hung dependency) to show the bounded
wait. Before the first fault and at the end it counts stored messages, Rasa tracker events, cart items
and handoffs, and checks that every message a shopper sent is stored. Writes reports/faults.json and
reports/faults.md. ``make test`` has the short version of the kills (tests/test_faults.py).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from aisle.db import session_factory
from aisle.models import CartItem, Conversation, ConversationMode, Message
from tests.e2e_stack import Stack
from bench.load import DEMO_CATALOG, REPORTS, SCRIPTS, Tally, shoppers, widget_conversations

EXTRA_SCRIPTS = [["hi", "show me kettles", "I want to talk to a real person"],
                 ["show me hiking boots", "add the first one to my cart", "what's in my cart?"]]
RECOVERY_LIMIT_S = 120


def counts(stack: Stack) -> dict[str, int]:
    with session_factory(stack.settings.database_url)() as s:
        return {
            "messages": s.scalar(select(func.count(Message.id))) or 0,
            "tracker_events": s.scalar(text("SELECT count(*) FROM events")) or 0,
            "cart_items": s.scalar(select(func.count(CartItem.id))) or 0,
            "handoffs": s.scalar(select(func.count(Conversation.id)).where(
                Conversation.mode != ConversationMode.bot)) or 0,
        }


def stored_client_ids(stack: Stack) -> set[tuple[str, str]]:
    with session_factory(stack.settings.database_url)() as s:
        return set(s.execute(select(Message.conversation_id, Message.client_id)
                             .where(Message.client_id.is_not(None))))


def window(tally: Tally, start: float, end: float) -> dict[str, Any]:
    """What shoppers saw between two moments (turns that started then)."""
    seen = [(t, outcome, ms) for t, outcome, ms in tally.timeline if start <= t < end]
    latencies = [ms for _, outcome, ms in seen if ms is not None]
    return {"turns_ok": sum(o == "ok" for _, o, _ in seen), "notices": sum(o == "notice" for _, o, _ in seen),
            "errors": sum(o == "error" for _, o, _ in seen), "silent": sum(o == "silent" for _, o, _ in seen),
            "dropped_connections": sum(o == "dropped" for _, o, _ in seen),
            "longest_turn_ms": round(max(latencies), 1) if latencies else None}


async def inject(stack: Stack, tally: Tally, settle_s: float, freeze_s: float) -> list[dict[str, Any]]:
    faults = []
    for name in ("nlu", "actions", "rasa", "web"):
        victim = stack.service_process(name)
        start = time.monotonic()
        os.kill(victim.pid, signal.SIGKILL)
        recovered = await asyncio.to_thread(stack.seconds_until_healthy, RECOVERY_LIMIT_S)
        await asyncio.sleep(settle_s)
        faults.append({"fault": f"kill -9 {name}", "back_after_s": round(recovered, 1),
                       "new_pid": stack.service_process(name).pid != victim.pid,
                       **window(tally, start, start + recovered + settle_s)})
        print(json.dumps(faults[-1]), flush=True)
    victim = stack.service_process("nlu")
    start = time.monotonic()
    victim.suspend()  # hung, not dead: connections open, nothing answers
    await asyncio.sleep(freeze_s)
    victim.resume()
    await asyncio.sleep(settle_s)
    faults.append({"fault": f"NLU frozen (SIGSTOP) for {freeze_s:.0f} s", "back_after_s": None, "new_pid": False,
                   **window(tally, start, start + freeze_s)})
    print(json.dumps(faults[-1]), flush=True)
    return faults


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack.create(Path(tmp), catalog=DEMO_CATALOG, extra_env={
            "AISLE_RATE_PER_IP": "100000/minute", "AISLE_LOG_LEVEL": "WARNING",
            "AISLE_TURN_TIMEOUT_S": str(args.turn_timeout)})
        try:
            stack.start_all()
            tally = Tally(timeline=[])
            stop_at = time.monotonic() + 10 ** 6  # until cancelled after the last fault
            chat = asyncio.create_task(shoppers(widget_conversations(stack.web_url, resilient=True), args.shoppers,
                                                tally, stop_at, seed=7, scripts=[*SCRIPTS, *EXTRA_SCRIPTS]))
            await asyncio.sleep(args.warmup)
            before = counts(stack)
            steady = window(tally, 0, time.monotonic())
            faults = await inject(stack, tally, args.settle, args.freeze)
            chat.cancel()
            await asyncio.gather(chat, return_exceptions=True)
            await asyncio.sleep(2)  # turns still in flight land in the database
            after = counts(stack)
            missing = tally.sent - stored_client_ids(stack)
        finally:
            stack.stop_all()
    return {"command": "python -m bench.faults " + " ".join(sys.argv[1:]), "measured_at": time.strftime("%Y-%m-%d"),
            "shoppers": args.shoppers, "turn_timeout_s": args.turn_timeout, "before_faults": steady,
            "faults": faults, "counts_before": before, "counts_after": after,
            "messages_sent": len(tally.sent), "sent_but_not_stored": len(missing),
            "stack_traces_seen": tally.stack_traces[:5],
            "turns": tally.turns, "notices": tally.notices, "reconnects": tally.reconnects}


def markdown(r: dict[str, Any]) -> str:
    lines = ["# Faults under load", "",
             f"`{r['command']}` ({r['measured_at']}): {r['shoppers']} widget-like shoppers chatting throughout "
             f"(they reconnect and resend like the widget), AISLE_TURN_TIMEOUT_S={r['turn_timeout_s']}. Before the "
             f"first fault: {r['before_faults']['turns_ok']} turns answered, {r['before_faults']['errors']} errors.", "",
             "| fault | back after (s) | new process | turns answered | \"one moment\" notices | errors | "
             "silent turns | dropped connections | longest turn (ms) |", "|---|---|---|---|---|---|---|---|---|"]
    for f in r["faults"]:
        lines.append(f"| {f['fault']} | {f['back_after_s'] if f['back_after_s'] is not None else '–'} | "
                     f"{'yes' if f['new_pid'] else 'no'} | {f['turns_ok']} | {f['notices']} | {f['errors']} | {f['silent']} | "
                     f"{f['dropped_connections']} | {f['longest_turn_ms']} |")
    lines += ["", "Counted (window: turns that started between the fault and a few seconds after recovery).", "",
              "| stored | before the first fault | at the end |", "|---|---|---|"]
    for key in r["counts_before"]:
        lines.append(f"| {key.replace('_', ' ')} | {r['counts_before'][key]} | {r['counts_after'][key]} |")
    lines += ["", f"Messages the shoppers sent: {r['messages_sent']}; sent but not stored: "
              f"**{r['sent_but_not_stored']}**. Stack traces shown to shoppers: **{len(r['stack_traces_seen'])}**. "
              f"Turns in the whole run: {r['turns']}, of them \"one moment\" notices: {r['notices']}; "
              f"reconnects after a dropped connection: {r['reconnects']}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shoppers", type=int, default=15)
    parser.add_argument("--warmup", type=float, default=30, help="seconds of chat before the first fault")
    parser.add_argument("--settle", type=float, default=10, help="seconds of chat after each recovery")
    parser.add_argument("--freeze", type=float, default=20, help="seconds the NLU server stays frozen")
    parser.add_argument("--turn-timeout", type=float, default=5, help="AISLE_TURN_TIMEOUT_S for the run")
    result = asyncio.run(run(parser.parse_args()))
    REPORTS.mkdir(exist_ok=True)
    (REPORTS / "faults.json").write_text(json.dumps(result, indent=2) + "\n")
    (REPORTS / "faults.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
