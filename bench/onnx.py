"""ONNX Runtime vs torch for serving: ``python -m bench.onnx`` writes reports/onnx.{json,md}.

For the intent classifier (the trained model in AISLE_DATA_DIR/nlu) and the sentence encoder (search and
the knowledge base), each as torch eager (what served before), ONNX fp32 and ONNX dynamic int8:

- quality: intent accuracy on the dev set and on the held-out shopper messages (aggregates only), the
  shop parser's answers to CLINC150's test messages (agreement with torch, oos recall), and search
  NDCG@10 on both catalog benchmarks (``bench.search``, weights tuned with the encoder under test);
- latency: a single message through the model alone and through ``Parser.parse``, one query through the
  encoder; each variant in its own process pinned to one CPU (taskset) on one intra-op thread, medians of
  many runs. torch rows are repeated limited to AVX2 (``ONEDNN_MAX_CPU_ISA=AVX2
  MKL_ENABLE_INSTRUCTIONS=AVX2``); ONNX Runtime has no such switch (its MLAS kernels pick the widest ISA);
- memory: resident size of each variant's process after loading, and of the real NLU and action servers
  at idle (``--baseline-tree`` starts an older checkout's servers the same way, for before/after).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from aisle.config import REPO_ROOT, settings
from aisle.logs import configure_logging
from nlu_models.data import load_examples

log = logging.getLogger("bench.onnx")
REPORTS = REPO_ROOT / "reports"
VARIANTS = ("torch", "fp32", "int8")
PARTS = ("intent", "search", "faq", "latency", "services", "reuse")
AVX2_ONLY = {"ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
BOUNDS = {"accuracy_points": 0.3, "ndcg10": 0.005}
LATENCY_TEXTS = 60  # distinct training messages, each timed REPEATS times after a warm-up pass
REPEATS = 10


def versions() -> dict[str, Any]:
    import onnxruntime
    import torch

    from bench.machine import cpu_description

    cpu = cpu_description()
    return {"cpu": cpu.get("Model name", platform.processor()), "flags": cpu.get("flags_relevant", []),
            "cpus": cpu.get("CPU(s)"), "hypervisor": cpu.get("Hypervisor vendor"),
            "bf16_autocast": cpu.get("bf16_autocast"), "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__, "python": platform.python_version(),
            "threads": settings().torch_threads, "load_average": [round(x, 2) for x in os.getloadavg()]}


# ---------------------------------------------------------------- intent quality

def bench_intent() -> dict[str, Any]:
    from bench.nlu_eval import DEVSET, HELDOUT, load_shop_parser, parser_predictor, read_jsonl, score

    folder = settings().nlu_model_dir
    clinc = json.loads((REPO_ROOT.parent / "shared" / "datasets" / "clinc150" / "data_full.json").read_text())
    clinc_texts = [t for t, _ in clinc["test"]] + [t for t, _ in clinc["oos_test"]]
    n_oos = len(clinc["oos_test"])
    sets = {"devset": read_jsonl(DEVSET), "heldout": read_jsonl(HELDOUT)}
    rows: dict[str, Any] = {}
    answers: dict[str, list[str]] = {}
    raw_top: dict[str, np.ndarray] = {}
    for variant in VARIANTS:
        parser = load_shop_parser(folder, precision=variant)
        predict = parser_predictor(parser)
        row: dict[str, Any] = {}
        for name, items in sets.items():
            s = score([g for _, g in items], predict([t for t, _ in items]))
            # Aggregates only: the held-out set is never looked at message by message.
            row[name] = {k: s[k] for k in ("n", "accuracy", "macro_f1", "refused_in_scope")}
        answers[variant] = predict(clinc_texts)
        raw_top[variant] = parser.model.probabilities(clinc_texts).argmax(1)  # type: ignore[attr-defined]
        refused = [a in ("out_of_scope", "nlu_fallback") for a in answers[variant][-n_oos:]]
        row["clinc150_test"] = {"n": len(clinc_texts), "oos_recall": round(100 * float(np.mean(refused)), 2)}
        rows[variant] = row
        log.info("intent %s: %s", variant, row)
    for variant in ("fp32", "int8"):
        same = np.mean([a == b for a, b in zip(answers[variant], answers["torch"])])
        rows[variant]["clinc150_test"]["parser_agreement_with_torch"] = round(100 * float(same), 2)
        rows[variant]["clinc150_test"]["model_top_agreement_with_torch"] = round(
            100 * float(np.mean(raw_top[variant] == raw_top["torch"])), 2)
    return {"model": str(folder.relative_to(REPO_ROOT)) if folder.is_relative_to(REPO_ROOT) else str(folder),
            "rows": rows}


# ---------------------------------------------------------------- search quality

def encoders() -> dict[str, Callable[[list[str]], np.ndarray]]:
    from text_tools.encoder import encode_torch, onnx_encoder

    folder, threads = settings().encoder_dir, settings().torch_threads
    fp32, int8 = onnx_encoder(folder, "fp32", threads), onnx_encoder(folder, "int8", threads)
    return {"torch": encode_torch, "fp32": fp32.embed, "int8": int8.embed}


def bench_search() -> dict[str, Any]:
    """``bench.search`` (both catalogs, weights tuned on the other one) once per encoder."""
    return {"rows": search_rows(encoders()), "note": "NDCG@10 of the dense retriever alone and of the served ranking"}


def search_rows(encoders: dict[str, Callable[[list[str]], np.ndarray]]) -> dict[str, Any]:
    import bench.search.__main__ as search_bench
    import text_tools.encoder as encoder_module

    served = encoder_module.encode
    rows: dict[str, Any] = {}
    try:
        for variant, encode in encoders.items():
            encoder_module.encode = encode  # what bench.search imports when it runs
            report = search_bench.run([])
            rows[variant] = {name: {system: (q[system]["summary"] if "summary" in q[system] else q[system])["ndcg10"]
                                    for system in ("dense", "served")}
                             for name, c in report["catalogs"].items() for q in [c["quality"]]}
            log.info("search %s: %s", variant, rows[variant])
    finally:
        encoder_module.encode = served
    return rows


def bench_faq() -> dict[str, Any]:
    """``bench.faq``'s questions against the demo knowledge base, once per encoder (index, calibrator
    and questions all embedded by the encoder under test)."""
    import yaml

    from aisle import migrate
    from aisle.db import session_factory
    from aisle.models import FaqEntry
    from bench.faq import QUESTIONS, evaluate
    from knowledge.kb import KnowledgeBase
    from knowledge.retrieval import FaqRetriever

    questions = yaml.safe_load(QUESTIONS.read_text())
    rows: dict[str, Any] = {}
    for variant, encode in encoders().items():
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/faq.db"
            migrate.upgrade(url)
            sessions = session_factory(url)
            KnowledgeBase(sessions).seed_demo()
            with sessions() as s:
                ids = {e.question: e.id for e in s.query(FaqEntry)}
            q = evaluate(FaqRetriever(sessions, encode=encode), questions, ids)
        rows[variant] = {k: round(100 * q[k], 2) for k in ("top1_accuracy", "answered_correct", "answered_wrong",
                                                            "unanswerable_declined")}
        log.info("faq %s: %s", variant, rows[variant])
    return {"rows": rows, "note": "percent; bench.faq questions (answerable paraphrases and unanswerable ones)"}


def intent_model_embedder() -> Callable[[list[str]], np.ndarray]:
    """Sentence embeddings from the fine-tuned intent model's own encoder (mean-pooled last hidden state,
    unit length): what the NLU server could return with its parse at no extra forward pass."""
    from text_tools.encoder import offline

    offline()
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder = settings().nlu_model_dir
    model, tokenizer = AutoModel.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)

    def embed(texts: list[str]) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), 64):
                enc = tokenizer(texts[i:i + 64], padding=True, truncation=True, max_length=256, return_tensors="pt")
                states = model(**enc).last_hidden_state
                mask = enc["attention_mask"].unsqueeze(-1).float()
                pooled = torch.nn.functional.normalize((states * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=1)
                out.append(pooled.numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 384), np.float32)

    return embed


def bench_reuse() -> dict[str, Any]:
    """Issue #16 item 2: one forward pass per message for both intent and search (and FAQ retrieval)."""
    rows = search_rows({"intent model's encoder (one pass)": intent_model_embedder()})
    return {"rows": rows, "note": "NDCG@10 with the fine-tuned intent model's mean-pooled hidden state as the "
            "search embedding (products embedded the same way), to compare with the sentence encoder rows"}


# ---------------------------------------------------------------- latency and memory per variant

def latency_texts() -> list[str]:
    examples = load_examples(REPO_ROOT / "data" / "nlu")
    step = max(1, len(examples) // LATENCY_TEXTS)
    return [e.text for e in examples[::step][:LATENCY_TEXTS]]


def timings(call: Callable[[str], Any], texts: Sequence[str]) -> dict[str, float]:
    for text in texts:
        call(text)
    ms = []
    for _ in range(REPEATS):
        for text in texts:
            t0 = time.perf_counter()
            call(text)
            ms.append((time.perf_counter() - t0) * 1000)
    return {"p50": round(float(np.median(ms)), 2), "p95": round(float(np.percentile(ms, 95)), 2), "n": len(ms)}


def worker(model: str, variant: str) -> dict[str, Any]:
    """Runs in its own process: load one model one way, then time it (see ``bench_latency``)."""
    import psutil

    started = time.perf_counter()
    cfg = settings()
    texts = latency_texts()
    out: dict[str, Any] = {}
    if variant == "torch":
        import torch

        torch.set_num_threads(cfg.torch_threads)
    if model == "intent":
        from bench.nlu_eval import load_shop_parser

        parser = load_shop_parser(cfg.nlu_model_dir, precision=variant)
        out["load_s"] = round(time.perf_counter() - started, 2)
        out["model_ms"] = timings(lambda t: parser.model.logits([t]), texts)  # type: ignore[attr-defined]
        out["parse_ms"] = timings(parser.parse, texts)
    else:
        from text_tools.encoder import encode_torch, onnx_encoder

        embed = encode_torch if variant == "torch" else onnx_encoder(cfg.encoder_dir, variant, cfg.torch_threads).embed
        embed(["warm up"])
        out["load_s"] = round(time.perf_counter() - started, 2)
        out["query_ms"] = timings(lambda t: embed([t]), texts)
    out["rss_mb"] = round(psutil.Process().memory_info().rss / 2**20, 1)
    out["torch_imported"] = "torch" in sys.modules
    return out


def run_worker(model: str, variant: str, env: dict[str, str], cpu: int) -> dict[str, Any]:
    cmd = ["taskset", "-c", str(cpu), sys.executable, "-m", "bench.onnx", "--worker", f"{model}:{variant}"]
    done = subprocess.run(cmd, cwd=REPO_ROOT, env={**os.environ, **env}, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_latency() -> dict[str, Any]:
    cpu = max(os.sched_getaffinity(0))
    rows: dict[str, Any] = {}
    for model in ("intent", "encoder"):
        for variant in VARIANTS:
            rows[f"{model}:{variant}"] = run_worker(model, variant, {}, cpu)
            log.info("%s:%s %s", model, variant, rows[f"{model}:{variant}"])
        rows[f"{model}:torch-avx2"] = run_worker(model, "torch", AVX2_ONLY, cpu)
    return {"cpu_pinned": cpu, "texts": LATENCY_TEXTS, "repeats": REPEATS, "rows": rows}


# ---------------------------------------------------------------- the real servers at idle

def service_rss(tree: Path, nlu_dir: Path) -> dict[str, Any]:
    """Start ``tree``'s NLU and action servers on a scratch data dir (the small test catalog and the demo
    knowledge base), wait until they answer, and read their resident memory."""
    import psutil

    from tests.e2e_stack import CATALOG, free_port, http_json

    python = str(tree / ".venv" / "bin" / "python")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        subprocess.run(["cp", "-r", str(nlu_dir), str(data / "nlu")], check=True)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("AISLE_")}, "AISLE_DATA_DIR": tmp,
               "AISLE_NLU_PORT": str(free_port()), "AISLE_ACTION_PORT": str(free_port())}
        for step in (["aisle", "migrate"], ["catalog", "import", str(CATALOG)], ["knowledge", "seed-demo"]):
            subprocess.run([python, "-m", *step], cwd=tree, env=env, check=True, capture_output=True)
        procs = {name: subprocess.Popen([python, "-m", *cmd], cwd=tree, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
                 for name, cmd in (("nlu", ["nlu_models", "serve"]), ("actions", ["actions"]))}
        try:
            urls = {"nlu": f"http://127.0.0.1:{env['AISLE_NLU_PORT']}/health",
                    "actions": f"http://127.0.0.1:{env['AISLE_ACTION_PORT']}/health"}
            deadline = time.monotonic() + 300
            for name, url in urls.items():
                while True:
                    try:
                        if http_json("GET", url, timeout=5)[0] == 200:
                            break
                    except OSError:
                        pass
                    if time.monotonic() > deadline or procs[name].poll() is not None:
                        raise RuntimeError(f"{name} of {tree} did not start")
                    time.sleep(1)
            time.sleep(3)
            out = {}
            for name, proc in procs.items():
                info = psutil.Process(proc.pid).memory_full_info()
                libs = {Path(m.path).name for m in psutil.Process(proc.pid).memory_maps()}
                out[name] = {"rss_mb": round(info.rss / 2**20, 1), "uss_mb": round(info.uss / 2**20, 1),
                             "libtorch_loaded": any(lib.startswith("libtorch") for lib in libs)}
            return out
        finally:
            for proc in procs.values():
                proc.terminate()
                proc.wait(timeout=30)


def bench_services(baseline: Path | None) -> dict[str, Any]:
    nlu_dir = settings().nlu_model_dir
    rows = {"this tree (ONNX Runtime)": service_rss(REPO_ROOT, nlu_dir)}
    if baseline is not None:
        rows[f"baseline tree {baseline.name} (torch)"] = service_rss(baseline, nlu_dir)
    return {"rows": rows, "note": "idle, after start-up warm-up (models and indexes loaded), scratch data dir"}


# ---------------------------------------------------------------- report

def choose(report: dict[str, Any]) -> dict[str, Any]:
    """int8 where it stays within the issue's quality bounds of the torch model, else fp32."""
    out: dict[str, Any] = {}
    intent = (report.get("intent") or {}).get("rows")
    if intent:
        deltas = {f"{part} accuracy": round(intent["int8"][part]["accuracy"] - intent["torch"][part]["accuracy"], 2)
                  for part in ("devset", "heldout")}
        ok = all(d >= -BOUNDS["accuracy_points"] for d in deltas.values())
        out["intent"] = {"choice": "int8" if ok else "fp32", "int8_minus_torch": deltas,
                         "bound": f"accuracy within {BOUNDS['accuracy_points']} points"}
    search = (report.get("search") or {}).get("rows")
    if search:
        deltas = {f"{name} served NDCG@10": round(search["int8"][name]["served"] - search["torch"][name]["served"], 4)
                  for name in search["torch"]}
        ok = all(d >= -BOUNDS["ndcg10"] for d in deltas.values())
        out["encoder"] = {"choice": "int8" if ok else "fp32", "int8_minus_torch": deltas,
                          "bound": f"NDCG@10 within {BOUNDS['ndcg10']}"}
    return out


def span(ms: dict[str, float]) -> str:
    return f"{ms['p50']} / {ms['p95']}"


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = ["# ONNX Runtime vs torch for serving", "",
             f"Run {report['finished_at']} by `python -m bench.onnx` on **{m['cpu']}** ({m['cpus']} CPUs, "
             f"{m['hypervisor'] or 'no'} hypervisor; flags {', '.join(m['flags'])}; native bf16 autocast: "
             f"{m['bf16_autocast']}), torch {m['torch']}, onnxruntime {m['onnxruntime']}, Python {m['python']}, "
             f"{m['threads']} intra-op thread. Load average at the start {m['load_average']}: the machine is shared "
             "with other jobs, so latencies are medians of many runs and only the ratios between rows of one run "
             "mean anything.", ""]
    chosen = report.get("choice", {})
    if chosen:
        lines += ["## Chosen precision", "", "| model | served | int8 − torch | bound |", "|---|---|---|---|"]
        for model, c in chosen.items():
            lines.append(f"| {model} | **{c['choice']}** | {c['int8_minus_torch']} | {c['bound']} |")
        lines.append("")
    if "intent" in report:
        rows = report["intent"]["rows"]
        lines += ["## Intent classifier quality (shop parser, rules on)", "",
                  "| runtime | dev set acc | dev macro-F1 | held-out acc | held-out macro-F1 | held-out refused | "
                  "CLINC150 test oos recall | CLINC answers = torch | model top intent = torch |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for v in VARIANTS:
            r = rows[v]
            c = r["clinc150_test"]
            lines.append(f"| {v} | {r['devset']['accuracy']} | {r['devset']['macro_f1']} | {r['heldout']['accuracy']} | "
                         f"{r['heldout']['macro_f1']} | {r['heldout']['refused_in_scope']} | {c['oos_recall']} | "
                         f"{c.get('parser_agreement_with_torch', '–')} | {c.get('model_top_agreement_with_torch', '–')} |")
        lines += ["", f"Held-out: {rows['torch']['heldout']['n']} messages (aggregates only); CLINC150 test: "
                  f"{rows['torch']['clinc150_test']['n']} messages (in-scope + oos) through the shop model.", ""]
    if "search" in report:
        rows = report["search"]["rows"]
        cats = list(rows["torch"])
        lines += ["## Search quality (NDCG@10, `bench.search`)", "",
                  "| encoder | " + " | ".join(f"{c} dense | {c} served" for c in cats) + " |",
                  "|---|" + "---|---|" * len(cats)]
        for v in VARIANTS:
            lines.append(f"| {v} | " + " | ".join(f"{rows[v][c]['dense']} | {rows[v][c]['served']}" for c in cats) + " |")
        lines.append("")
    if "faq" in report:
        rows = report["faq"]["rows"]
        lines += ["## FAQ retrieval (`bench.faq` questions, demo knowledge base)", "", report["faq"]["note"] + ".", "",
                  "| encoder | top-1 accuracy | answered, right | answered, wrong | unanswerable declined |",
                  "|---|---|---|---|---|"]
        for v, r in rows.items():
            lines.append(f"| {v} | {r['top1_accuracy']} | {r['answered_correct']} | {r['answered_wrong']} | "
                         f"{r['unanswerable_declined']} |")
        lines.append("")
    if "reuse" in report and "search" in report:
        rows = {**{f"sentence encoder, {v}": r for v, r in report["search"]["rows"].items()}, **report["reuse"]["rows"]}
        cats = list(report["search"]["rows"]["torch"])
        lines += ["## One forward pass for intent and search? (issue #16 item 2)", "", report["reuse"]["note"] + ".", "",
                  "| query and product embedding | " + " | ".join(f"{c} dense | {c} served" for c in cats) + " |",
                  "|---|" + "---|---|" * len(cats)]
        for name, r in rows.items():
            lines.append(f"| {name} | " + " | ".join(f"{r[c]['dense']} | {r[c]['served']}" for c in cats) + " |")
        lat = (report.get("latency") or {}).get("rows", {})
        if lat:
            lines += ["", "What a second pass costs: one query through the sentence encoder takes "
                      + ", ".join(f"{v} {span(lat[f'encoder:{v}']['query_ms'])} ms" for v in VARIANTS
                                  if f"encoder:{v}" in lat) + " (p50 / p95, table below)."]
        served = report.get("choice", {}).get("encoder", {}).get("choice")
        if served:
            loss = {f"{name}, {c}": round(rows[f"sentence encoder, {served}"][c]["served"] - r[c]["served"], 4)
                    for name, r in report["reuse"]["rows"].items() for c in cats}
            lines += ["", f"Served NDCG@10 lost by taking the intent model's pass instead of the {served} sentence "
                      f"encoder's: {loss}. The action server already encodes each message once per search or FAQ "
                      "question (compound messages: one pass per clause, different texts), so one pass per message "
                      "would only remove the encoder query above, at that quality cost."]
        lines.append("")
    if "latency" in report:
        lat = report["latency"]
        lines += ["## Latency and memory per variant (one process each, pinned to CPU "
                  f"{lat['cpu_pinned']}, one thread; {lat['texts']} messages × {lat['repeats']})", "",
                  "| model | runtime | forward p50 / p95 ms | Parser.parse p50 / p95 ms | load s | RSS MB | torch imported |",
                  "|---|---|---|---|---|---|---|"]
        for key, r in lat["rows"].items():
            model, variant = key.split(":")
            forward, parse = r.get("model_ms") or r["query_ms"], r.get("parse_ms")
            lines.append(f"| {model} | {variant} | {span(forward)} | {span(parse) if parse else '–'} | "
                         f"{r['load_s']} | {r['rss_mb']} | {r['torch_imported']} |")
        lines += ["", "`torch-avx2`: torch with `ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2`, an approximation "
                  "of a CPU without AVX-512. ONNX Runtime has no such switch, so its rows use this CPU's widest ISA.", ""]
    if "services" in report:
        lines += ["## Resident memory of the real servers at idle", "", report["services"]["note"], "",
                  "| tree | service | RSS MB | USS MB | libtorch loaded |", "|---|---|---|---|---|"]
        for tree, services in report["services"]["rows"].items():
            for name, r in services.items():
                lines.append(f"| {tree} | {name} | {r['rss_mb']} | {r['uss_mb']} | {r['libtorch_loaded']} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.onnx", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {PARTS}")
    parser.add_argument("--baseline-tree", type=Path, help="a checkout from before ONNX serving (its .venv used)")
    parser.add_argument("--out", type=Path, default=REPORTS)
    parser.add_argument("--render", action="store_true", help="only rewrite onnx.md from onnx.json")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # model:variant, run by bench_latency
    args = parser.parse_args()
    if args.worker:
        logging.disable(logging.WARNING)
        print(json.dumps(worker(*args.worker.split(":"))))
        return
    configure_logging(settings().log_level, settings().log_format)
    path = args.out / "onnx.json"
    if args.render:
        (args.out / "onnx.md").write_text(markdown(json.loads(path.read_text())))
        return
    report: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    report["machine"] = versions()
    jobs: dict[str, Callable[[], dict[str, Any]]] = {
        "intent": bench_intent, "search": bench_search, "faq": bench_faq, "latency": bench_latency,
        "services": lambda: bench_services(args.baseline_tree), "reuse": bench_reuse}
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    for part in parts:
        if part not in jobs:
            parser.error(f"unknown part {part!r}; choose from {PARTS}")
    args.out.mkdir(parents=True, exist_ok=True)
    for part in parts:
        started = time.perf_counter()
        report[part] = jobs[part]()
        log.info("part %s done in %.0f s", part, time.perf_counter() - started)
        # Written after every part: a later part that fails does not lose the earlier ones.
        report["choice"] = choose(report)
        report["finished_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        path.write_text(json.dumps(report, indent=1))
        (args.out / "onnx.md").write_text(markdown(report))
    print(f"wrote {path} and {args.out / 'onnx.md'}")


if __name__ == "__main__":
    main()
