"""Benchmark results: the targets check, bench/results.json and the Markdown tables in the README.

The README's performance section holds generated blocks between ``<!-- BENCH:x -->`` and
``<!-- /BENCH:x -->`` markers (x = summary, model, service, batch); :func:`update_readme`
replaces only the inside of the blocks that exist, so the prose around them stays hand-written.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from importlib import metadata
from pathlib import Path


def library_versions(libs: tuple[str, ...] | list[str]) -> dict[str, str | None]:
    """Installed version of each distribution (None when absent), for results and cache keys."""
    versions: dict[str, str | None] = {}
    for lib in libs:
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            versions[lib] = None
    return versions


def _fmt(x: float | None, spec: str = ".1f") -> str:
    return "n/a" if x is None else format(x, spec)


def _model_rows(model: dict) -> list[dict]:
    out = []
    for cell, info in (model or {}).get("cells", {}).items():
        rows = {r["batch"]: r for r in info["rows"]}
        for batch, goal in ((1, 5.0), (32, 3.0 if cell == "lstm" else None)):
            if batch in rows:
                out.append({"target": f"{cell.upper()} fused vs plain tf2onnx, batch {batch}",
                            "value": rows[batch]["fused_vs_plain"], "goal": goal, "unit": "x"})
        if 1 in rows:
            out.append({"target": f"{cell.upper()} fused vs Keras, batch 1",
                        "value": rows[1]["fused_vs_keras"], "goal": 100.0, "unit": "x"})
        eff = info.get("efficiency", {})
        out.append({"target": f"{cell.upper()} fused efficiency at batch {eff.get('batch')}, share "
                    "of MatMul peak", "value": eff.get("fraction_of_peak"), "goal": 0.40, "unit": "%"})
    return out


def _service_rows(service: dict) -> list[dict]:
    out = []
    for size, s in (service or {}).get("sizes", {}).items():
        r, b = s["ratios"], s["p99_bound_ms"]
        goal_bare = 0.5 if size == "1" else 0.8
        t = s["targets"]
        unmet = ", ".join(n for n in ("service", "bare", "nobatch_plain") if not t[n]["rps_at_p99"])
        missing = f"n/a: no tried rate met the bound ({unmet})"
        out.append({"target": f"service vs bare server, {size}-text requests, req/s at p99 <= {b:g} ms",
                    "value": r["service_vs_bare_at_p99"], "goal": goal_bare, "unit": "x",
                    "missing": missing})
        out.append({"target": f"service vs BentoML no-batching plain export, {size}-text, req/s "
                    f"at p99 <= {b:g} ms", "value": r["service_vs_nobatch_plain_at_p99"],
                    "goal": 3.0, "unit": "x", "missing": missing})
        out.append({"target": f"service vs bare server, {size}-text, capacity (closed loop)",
                    "value": r["service_vs_bare_capacity"], "goal": None, "unit": "x"})
        out.append({"target": f"service vs BentoML no-batching plain export, {size}-text, "
                    "capacity", "value": r["service_vs_nobatch_plain_capacity"], "goal": None, "unit": "x"})
        out.append({"target": f"service p99 at half capacity, {size}-text requests",
                    "value": s["targets"]["service"]["fixed_p99_ms"], "goal": 10.0, "unit": "ms",
                    "lower_is_better": True})
    return out


def targets(results: dict) -> list[dict]:
    """Every issue target with its measured value and whether it was met (None: no goal)."""
    rows = _model_rows(results.get("model")) + _service_rows(results.get("service"))
    batch = results.get("batch")
    if batch and "engine_vs_raw" in batch:
        rows.append({"target": "batch job vs raw onnxruntime (rows/s)",
                     "value": batch["engine_vs_raw"], "goal": 0.8, "unit": "x"})
    for row in rows:
        v, g = row["value"], row["goal"]
        row["met"] = None if g is None or v is None else (v <= g if row.get("lower_is_better") else v >= g)
    return rows


def _value(row: dict) -> str:
    v = row["value"]
    if v is None:
        return row.get("missing", "n/a")
    return {"%": f"{v:.0%}", "ms": f"{v:.1f} ms"}.get(row["unit"], f"{v:.2f}x")


def _goal(row: dict) -> str:
    g = row["goal"]
    if g is None:
        return "(report)"
    op = "<=" if row.get("lower_is_better") else ">="
    return op + " " + {"%": f"{g:.0%}", "ms": f"{g:g} ms"}.get(row["unit"], f"{g:g}x")


def markdown_summary(results: dict) -> str:
    lines = ["| target | measured | goal | met |", "|---|---|---|---|"]
    for row in targets(results):
        met = {True: "yes", False: "**no**", None: "-"}[row["met"]]
        if row["met"] is None and row["goal"] is not None:
            met = "**not shown**"
        lines.append(f"| {row['target']} | {_value(row)} | {_goal(row)} | {met} |")
    return "\n".join(lines)


def markdown_service(service: dict) -> str:
    """Per request size: one row per target, then the ratios."""
    lines = ["| texts/request | server | capacity req/s | req/s at p99 <= bound | texts/s at bound "
             "| fixed rate req/s (achieved) | p50 ms | p99 ms | server / client cores |",
             "|---|---|---|---|---|---|---|---|---|"]
    for size, s in service.get("sizes", {}).items():
        for name, t in s["targets"].items():
            lines.append(
                f"| {size} | {name} | {_fmt(t['capacity_rps'])} | {_fmt(t['rps_at_p99'])} "
                f"(<= {s['p99_bound_ms']:g} ms) | {_fmt(t['texts_per_s_at_p99'], '.0f')} | "
                f"{_fmt(t['fixed_offered_rps'])} ({_fmt(t['fixed_achieved_rps'])}) | "
                f"{_fmt(t['fixed_p50_ms'], '.2f')} | {_fmt(t['fixed_p99_ms'], '.2f')} | "
                f"{_fmt(t['fixed_server_cores'], '.2f')} / {_fmt(t['fixed_client_cores'], '.2f')} |")
    lines.append("")
    for size, s in service.get("sizes", {}).items():
        r = s["ratios"]
        lines.append(f"- {size}-text: service/bare {_fmt(r['service_vs_bare_at_p99'], '.2f')}x at "
                     f"p99 <= {s['p99_bound_ms']:g} ms ({_fmt(r['service_vs_bare_capacity'], '.2f')}x "
                     f"capacity); service/no-batching plain "
                     f"{_fmt(r['service_vs_nobatch_plain_at_p99'], '.2f')}x at the bound "
                     f"({_fmt(r['service_vs_nobatch_plain_capacity'], '.2f')}x capacity)")
    return "\n".join(lines)


def markdown_batch(batch: dict) -> str:
    if not batch or "engine_vs_raw" not in batch:
        return "(not measured)"
    lines = ["| rows | raw onnxruntime rows/s | local engine rows/s | engine / raw | tokenization share |",
             "|---|---|---|---|---|",
             f"| {batch['rows']} | {batch['raw_ort_rows_per_s']:,.0f} | {batch['engine_rows_per_s']:,.0f} "
             f"| {batch['engine_vs_raw']:.2f}x | {batch['tokenize_share']:.0%} |"]
    for scale, m in batch.get("memory", {}).items():
        rate = f"{m['rows_per_s']:,.0f} rows/s" if m.get("rows_per_s") else "rows/s n/a"
        if m.get("vs_raw"):
            rate += f", {m['vs_raw']:.2f}x raw's rate"
        lines.append(f"\n`sentiment score` on the corpus {scale} ({m['rows']} rows, fresh process, "
                     f"start-up included): {rate}; peak RSS {m['peak_rss_mib']} MiB")
    return "\n".join(lines)


def markdown_model(model: dict) -> str:
    if not model or "cells" not in model:
        return "(not measured)"
    from bench.model_bench import markdown

    return markdown(model)


def blocks(results: dict) -> dict[str, str]:
    """Generated Markdown per README block name."""
    meta = results.get("meta", {})
    stamp = (f"_Measured by `sentiment bench{' --quick' if meta.get('quick') else ''}` on "
             f"{meta.get('date', '?')}, {meta.get('cpus', '?')} CPUs, load average before the run "
             f"{meta.get('loadavg_before', '?')}, after {meta.get('loadavg_after', '?')}; medians of "
             f"{meta.get('repeats', '?')} runs._")
    if meta.get("note"):
        stamp += f" {meta['note']}"
    out = {"summary": stamp + "\n\n" + markdown_summary(results)}
    for name, fn in (("model", markdown_model), ("service", markdown_service), ("batch", markdown_batch)):
        if results.get(name):
            out[name] = fn(results[name])
    if results.get("service", {}).get("sizes"):
        svc = results["service"]
        out["service"] = (f"_Run of {meta.get('date', '?')} (load average before "
                          f"{meta.get('loadavg_before', '?')}); served bundle `{svc.get('bundle')}`, "
                          f"plain bundle `{svc.get('plain_bundle')}`, service settings "
                          f"{svc.get('service_settings')}._\n\n" + out["service"])
    return out


def update_readme(path: Path, results: dict, only: tuple[str, ...] | None = None) -> list[str]:
    """Replace the inside of every ``<!-- BENCH:x -->`` block present (or only the named ones);
    returns the names updated."""
    text = path.read_text(encoding="utf-8")
    done = []
    for name, body in blocks(results).items():
        if only is not None and name not in only:
            continue
        pat = re.compile(rf"(<!-- BENCH:{name} -->\n)(.*?)(<!-- /BENCH:{name} -->)", re.S)
        if pat.search(text):
            text = pat.sub(lambda m, b=body: m.group(1) + b.rstrip() + "\n" + m.group(3), text, count=1)
            done.append(name)
    write_atomic(path, text)
    return done


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary sibling and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def write_results(path: Path, results: dict) -> None:
    """bench/results.json (pretty, atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(results, indent=1, default=str) + "\n")
