"""Benchmark results: the targets check, bench/results.json and bench/RESULTS.md.

A full ``sentiment bench`` run writes both files: ``results.json`` holds every figure,
``RESULTS.md`` (:func:`write_markdown`) is generated from it: the run's date, the machine (CPUs,
platform, library versions), the load average before the run, then the summary of targets and
the model, service and batch tables. Nothing here reads or writes any other file; the docs link
to these two files instead of quoting figures.

This module imports nothing from the other bench modules (the model level's Markdown lives here
too), so ``bench.model_bench -> bench.model_engines -> bench.report`` has no cycle.
"""

from __future__ import annotations

import json
import os
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
        goal_bare = 0.8 if size == "1" else 1.0  # issue 17
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
    explain = (results.get("explain") or {}).get("summary")
    if explain:
        rows += [{"target": "/explain p50, one 30-token text (ms)",
                  "value": explain.get("explain_p50_ms"), "goal": 5.0, "unit": "ms",
                  "lower_is_better": True},
                 {"target": "/predict p99 with 10% /explain vs without",
                  "value": explain.get("mixed_predict_p99_ratio"), "goal": 1.5, "unit": "x",
                  "lower_is_better": True}]
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


# Efficiency figures of the model level, in the order the table lists them.
EFFICIENCY_KINDS = {"efficiency": "random batches", "efficiency_sorted": "length-sorted batches",
                    "efficiency_planned": "random batches in the runtime's planned chunks"}
_MODEL_COLUMNS = ("keras", "plain", "fused")  # the three engines, in the table's column order


def markdown_model(model: dict) -> str:
    """The model-level table (ms per batch, texts/s, ratios) and the efficiency lines."""
    if not model or "cells" not in model:
        return "(not measured)"
    lines = ["| cell | batch | Keras: ms/batch (texts/s) | tf2onnx plain | fused (ours) "
             "| fused vs plain (CPU time) | fused vs Keras |",
             "|---|---|---|---|---|---|---|"]
    for cell, info in model["cells"].items():
        for r in info["rows"]:
            cols = [f"{r[e]['median_ms']:.3g} ({r[e]['texts_per_s']:,.0f})" for e in _MODEL_COLUMNS]
            lines.append(f"| {cell.upper()} | {r['batch']} | " + " | ".join(cols)
                         + f" | {r['fused_vs_plain']:.1f}x ({r['fused_vs_plain_cpu']:.1f}x) | "
                         f"{r['fused_vs_keras']:,.0f}x |")
    peak = model["matmul_peak"]
    lines += ["", f"MatMul peak (1 thread, {peak['shape']}): {peak['gflops']:.1f} GFLOP/s wall-clock, "
              f"{peak['gflops_cpu']:.1f} on CPU time; each efficiency below re-times it just "
              "before and after the fused export.", ""]
    for cell, info in model["cells"].items():
        for kind, how in EFFICIENCY_KINDS.items():
            e = info[kind]
            lines.append(f"- {cell.upper()} fused, batch {e['batch']}, {how} "
                         f"({e['padding_fraction']:.0%} padding, "
                         f"{e['mean_ms_per_batch']:.2f} ms per batch of 32): "
                         f"{e['gflops_real']:.1f} GFLOP/s "
                         f"on real tokens = {e['fraction_of_peak']:.0%} of {e['peak_gflops']:.0f}"
                         f" (CPU time: {e['fraction_of_peak_cpu']:.0%}); counting padded tokens "
                         f"{e['fraction_of_peak_padded']:.0%} (CPU time: "
                         f"{e['fraction_of_peak_padded_cpu']:.0%})")
    lines.append("")
    lines += [f"- target {t['target']}: {t['value']:.3g}"
              + (f" (CPU time {t['value_cpu']:.3g})" if t["value_cpu"] is not None else "")
              + f" -> {'met' if t['met'] else 'MISSED'}" for t in model.get("targets", [])]
    return "\n".join(lines)


def markdown_explain(explain: dict) -> str:
    """/explain against /predict on one served 30-token text, and /predict under 10% /explain."""
    s = explain.get("summary") if explain else None
    if not s:
        return "(not measured)"
    rows = [("/explain p50 / p99 ms", s.get("explain_p50_ms"), s.get("explain_p99_ms")),
            ("/predict p50 / p99 ms", s.get("predict_p50_ms"), s.get("predict_p99_ms")),
            ("server CPU ms per request: /explain, /predict", s.get("explain_cpu_ms"),
             s.get("predict_cpu_ms")),
            ("/predict p99 ms alone, with 10% /explain", s.get("mixed_predict_p99_alone_ms"),
             s.get("mixed_predict_p99_ms"))]
    lines = ["| figure | value | value |", "|---|---|---|"]
    lines += [f"| {name} | {_fmt(a, '.2f')} | {_fmt(b, '.2f')} |" for name, a, b in rows]
    lines.append(f"\n- cost ratio (CPU): {_fmt(s.get('cost_ratio_cpu'), '.1f')}x; /predict p99 "
                 f"ratio under the mixed load: {_fmt(s.get('mixed_predict_p99_ratio'), '.2f')}x")
    return "\n".join(lines)


def blocks(results: dict) -> dict[str, str]:
    """Generated Markdown per section name (summary, model, service, batch)."""
    meta = results.get("meta", {})
    stamp = (f"_Measured by `sentiment bench{' --quick' if meta.get('quick') else ''}` on "
             f"{meta.get('date', '?')}, {meta.get('cpus', '?')} CPUs, load average before the run "
             f"{meta.get('loadavg_before', '?')}, after {meta.get('loadavg_after', '?')}; medians of "
             f"{meta.get('repeats', '?')} runs._")
    if meta.get("note"):
        stamp += f" {meta['note']}"
    out = {"summary": stamp + "\n\n" + markdown_summary(results)}
    for name, fn in (("model", markdown_model), ("service", markdown_service),
                     ("batch", markdown_batch), ("explain", markdown_explain)):
        if results.get(name):
            out[name] = fn(results[name])
    if results.get("service", {}).get("sizes"):
        svc = results["service"]
        out["service"] = (f"_Served bundle `{svc.get('bundle')}`, plain bundle "
                          f"`{svc.get('plain_bundle')}`, service settings "
                          f"{svc.get('service_settings')}._\n\n" + out["service"])
    return out


def _machine(meta: dict) -> list[str]:
    libs = meta.get("libraries") or {}
    lines = [f"- date: {meta.get('date', '?')}",
             f"- machine: {meta.get('cpus', '?')} CPUs, {meta.get('platform', '?')}, "
             f"Python {meta.get('python', '?')}",
             f"- load average before the run (1, 5, 15 min): {meta.get('loadavg_before', '?')}; "
             f"after: {meta.get('loadavg_after', '?')}",
             f"- bundle: `{meta.get('bundle', '?')}`; medians of {meta.get('repeats', '?')} runs"
             + (" (`--quick`)" if meta.get("quick") else "")]
    if meta.get("seconds"):
        lines.append("- wall time per part (s): " + ", ".join(
            f"{k} {v}" for k, v in meta["seconds"].items()))
    if libs:
        lines.append("- libraries: " + ", ".join(f"{k} {v or 'absent'}" for k, v in libs.items()))
    return lines


SECTION_TITLES = {"summary": "Targets", "model": "Model level", "service": "Service level",
                  "batch": "Batch job", "explain": "Explanations"}


def results_markdown(results: dict, source: str = "results.json") -> str:
    """The whole of bench/RESULTS.md for one run; ``source`` names the JSON file it mirrors."""
    meta = results.get("meta", {})
    lines = ["# Benchmark results", "",
             "<!-- Generated by `sentiment bench` (bench/report.py); do not edit by hand. -->", "",
             f"Generated by `sentiment bench` from `{source}` (next to this file), which holds every "
             "figure. "
             "How each one is measured: `docs/performance.md` (the Performance page of the docs).",
             "", "## Run", ""] + _machine(meta)
    for name, body in blocks(results).items():
        lines += ["", f"## {SECTION_TITLES.get(name, name)}", "", body.rstrip()]
    for part in ("model", "service", "batch", "explain"):
        if isinstance(results.get(part), dict) and "error" in results[part]:
            lines += ["", f"**{part} part failed:** `{results[part]['error']}`"]
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, results: dict, source: Path | None = None) -> None:
    """bench/RESULTS.md (atomic), generated from ``results``; ``source`` is the JSON it mirrors."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, results_markdown(results, source.name if source else "results.json"))


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
