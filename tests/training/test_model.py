"""The Keras model: glorot kernels, clipnorm, output heads, and the pretrained Embedding hook."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from training.model import ModelConfig, build_model  # noqa: E402
from training.trainer import pretrained_init  # noqa: E402


def _kernel_initializers(model) -> list[tuple[str, str]]:
    found = []
    for layer in model.layers:
        cfg = layer.get_config()
        inner = cfg.get("layer", {}).get("config", cfg)  # Bidirectional wraps its RNN
        for key in ("kernel_initializer", "recurrent_initializer"):
            if key in inner:
                found.append((layer.name + "." + key, inner[key]["class_name"]))
    return found


@pytest.mark.parametrize("cell,bidirectional", [("lstm", False), ("gru", False), ("lstm", True)])
def test_kernels_are_glorot_and_optimizer_clips(cell: str, bidirectional: bool) -> None:
    model = build_model(ModelConfig(cell=cell, bidirectional=bidirectional, embedding_dim=8, units=6),
                        50, 2, seed=3)
    inits = _kernel_initializers(model)
    assert len(inits) == 3  # RNN kernel, RNN recurrent kernel, Dense kernel
    assert all(name == "GlorotUniform" for _, name in inits), inits
    assert model.optimizer.clipnorm == 1.0
    assert model.get_layer("embedding").mask_zero
    assert model.output.shape[-1] == 1 and model.layers[-1].get_config()["activation"] == "sigmoid"


def test_multiclass_head_is_softmax_and_clipvalue_option() -> None:
    model = build_model(ModelConfig(embedding_dim=8, units=6, clipnorm=None, clipvalue=0.5), 50, 3, seed=3)
    assert model.output.shape[-1] == 3 and model.layers[-1].get_config()["activation"] == "softmax"
    assert model.optimizer.clipnorm is None and model.optimizer.clipvalue == 0.5


def test_unknown_cell_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown cell"):
        build_model(ModelConfig(cell="rnn"), 50, 2, seed=3)


def test_random_init_leaves_glorot_embedding() -> None:
    from tokenizers import Tokenizer, models

    tok = Tokenizer(models.WordLevel({"[PAD]": 0, "[UNK]": 1, "good": 2}, unk_token="[UNK]"))
    model = build_model(ModelConfig(embedding_dim=4, units=4, pretrained=None), 3, 2, seed=3)
    before = model.get_layer("embedding").get_weights()[0].copy()
    assert pretrained_init(model, ModelConfig(pretrained=None), tok, 3) == {"kind": "glorot_uniform"}
    np.testing.assert_array_equal(model.get_layer("embedding").get_weights()[0], before)


@pytest.mark.slow
def test_pretrained_init_overwrites_embedding() -> None:
    from tokenizers import Tokenizer, models

    words = ["[PAD]", "[UNK]", "good", "great", "bad", "awful", "film", "movie", "plot", "actor",
             "boring", "funny", "story"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    cfg = ModelConfig(embedding_dim=4, units=4, pretrained="minilm", pretrained_method="static")
    model = build_model(cfg, len(words), 2, seed=3)
    info = pretrained_init(model, cfg, tok, 3)
    emb = model.get_layer("embedding").get_weights()[0]
    assert info["kind"] == "pretrained" and info["method"] == "static" and info["coverage"] == 1.0
    assert not emb[0].any()
    np.testing.assert_allclose(emb[2:].std(axis=0), cfg.pretrained_scale, rtol=1e-4)
