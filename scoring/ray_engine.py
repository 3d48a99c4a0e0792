"""The Ray engine: the same job, with inference on Ray Data actors.

The driver reads, validates and quarantines rows exactly like the local engine and cuts them into
the same parts and windows. Each window becomes one dataset row (its texts as a list) and
``map_batches`` sends it to :class:`RayScorer`, an actor holding one onnxruntime session, which
tokenizes and scores the whole window with ``Predictor`` (the same micro-batches as the local
engine, hence the same float32 values). The driver writes parts in order as their windows come
back, so resume and output bytes are the same as with the local engine. Work is submitted in
waves of parts to bound the memory the driver and the object store hold. The bundle's files
travel through the object store, so workers on other machines need no shared filesystem.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import tempfile
from typing import Any

import numpy as np

from core.bundle import CARD, MODEL, TOKENIZER
from scoring.engine import Part, iter_parts, publish_part, windows

log = logging.getLogger(__name__)
WAVE_PARTS = 16


class RayScorer:
    """Ray Data actor: one Predictor (one onnxruntime session) per actor."""

    def __init__(self, bundle: list, threads: int = 1, batch_size: int = 64) -> None:
        import ray

        from core.runtime import Predictor, RuntimeOptions

        files: dict[str, bytes] = ray.get(bundle[0])
        tmp = tempfile.mkdtemp(prefix="sentiment-bundle-")
        try:
            for name, data in files.items():
                with open(os.path.join(tmp, name), "wb") as fh:
                    fh.write(data)
            self.predictor = Predictor(tmp, RuntimeOptions(intra_op_threads=threads))
            self.predictor.encoder  # noqa: B018 (tokenizer.json is loaded at first use: now)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # model and tokenizer are in memory now
        self.batch_size = batch_size

    def __call__(self, batch: Any) -> Any:
        """One row per window: tokenize and score its texts; probabilities flattened."""
        import pyarrow as pa

        flat = [self.predictor.predict_seqs(self.predictor.encode(texts), self.batch_size).ravel()
                for texts in batch.column("texts").to_pylist()]
        return pa.table({"part": batch.column("part"), "start": batch.column("start"),
                         "probs": pa.array(flat, type=pa.list_(pa.float32()))})


def connect(cfg: Any) -> bool:
    """Join ``--ray-address``/``$RAY_ADDRESS``, or start a local Ray; True if we must shut down."""
    import ray

    if ray.is_initialized():
        return False
    address = cfg.ray_address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        return True
    store = cfg.ray_object_store_mb * 2**20 if cfg.ray_object_store_mb else None
    ray.init(num_cpus=cfg.ray_num_cpus, include_dashboard=False, object_store_memory=store,
             _node_ip_address="127.0.0.1", logging_level=logging.WARNING, log_to_driver=False)
    return True


def _bundle_files(bundle: Any) -> dict[str, bytes]:
    return {name: (bundle.path / name).read_bytes() for name in (CARD, MODEL, TOKENIZER)}


def run_ray(ctx: Any) -> None:
    """Score every remaining part of ``ctx.reader`` on Ray Data, wave by wave."""
    import ray
    from ray.data import DataContext

    started = connect(ctx.config)
    try:
        data_ctx = DataContext.get_current()
        data_ctx.enable_progress_bars = False
        data_ctx.execution_options.preserve_order = True
        ref = ray.put(_bundle_files(ctx.bundle))
        parts = iter_parts(ctx.reader.rows(), ctx.options.part_rows, ctx.skip_rows)
        while wave := list(itertools.islice(parts, WAVE_PARTS)):
            _score_wave(ctx, wave, ref)
    finally:
        if started:
            ray.shutdown()


def _wave_dataset(ctx: Any, wave: list[Part], ref: Any) -> tuple[Any, list[int]]:
    """A dataset with one row (and one block) per window, mapped through RayScorer."""
    import pyarrow as pa
    import ray

    blocks, pending = [], []
    for pi, part in enumerate(wave):
        spans = windows(len(part.valid), ctx.options.window)
        pending.append(len(spans))
        part.probs = np.empty((len(part.valid), len(ctx.bundle.labels)), dtype=np.float32)
        for start, stop in spans:
            texts = [r.text for r in part.valid[start:stop]]
            blocks.append(pa.table({"part": [pi], "start": [start],
                                    "texts": pa.array([texts], type=pa.list_(pa.string()))}))
    if not blocks:
        return None, pending
    cfg = ctx.config
    ds = ray.data.from_arrow(blocks).map_batches(
        RayScorer, batch_size=1, batch_format="pyarrow", num_cpus=1,
        compute=ray.data.ActorPoolStrategy(size=cfg.ray_concurrency),
        fn_constructor_kwargs={"bundle": [ref], "threads": 1,
                               "batch_size": ctx.options.batch_size})
    return ds, pending


def _score_wave(ctx: Any, wave: list[Part], ref: Any) -> None:
    """Run one wave; publish its parts in order as soon as all their windows are back."""
    ds, pending = _wave_dataset(ctx, wave, ref)
    classes = len(ctx.bundle.labels)
    head = _publish_ready(ctx, wave, pending, 0)
    if ds is not None:
        for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            for pi, start, flat in zip(batch.column("part").to_pylist(),
                                       batch.column("start").to_pylist(),
                                       batch.column("probs").to_numpy(zero_copy_only=False),
                                       strict=True):
                probs = np.asarray(flat, dtype=np.float32).reshape(-1, classes)
                wave[pi].probs[start:start + len(probs)] = probs
                pending[pi] -= 1
            head = _publish_ready(ctx, wave, pending, head)
    if head != len(wave):
        raise RuntimeError(f"Ray returned results for {head} of {len(wave)} parts")


def _publish_ready(ctx: Any, wave: list[Part], pending: list[int], head: int) -> int:
    """Publish consecutive finished parts from ``head``; returns the new head."""
    while head < len(wave) and pending[head] == 0:
        part = wave[head]
        publish_part(ctx, part)
        wave[head] = Part([])  # release the rows
        head += 1
    return head
