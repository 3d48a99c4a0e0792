"""The tokenizer: pad/unk ids, truncation, train-split-only vocabulary, save/load round trip."""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer

from training.tokenizer import TokenizerConfig, train_tokenizer


def test_round_trip_and_special_ids(tmp_path: Path) -> None:
    tok = train_tokenizer(["A great film!", "a dull, DULL film"] * 5, TokenizerConfig(max_tokens=4))
    assert tok.token_to_id("[PAD]") == 0 and tok.token_to_id("[UNK]") == 1
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    loaded = Tokenizer.from_file(str(path))
    texts = ["great film", "a dull, dull, dull, dull film", "unseenword"]
    assert [e.ids for e in loaded.encode_batch(texts)] == [e.ids for e in tok.encode_batch(texts)]
    ids = [e.ids for e in loaded.encode_batch(texts)]
    assert all(len(i) == 4 for i in ids)  # truncated to max_tokens, padded to the longest
    assert ids[0][2:] == [0, 0] and ids[2] == [1, 0, 0, 0]


def test_normalization_lowercases_and_strips_accents() -> None:
    tok = train_tokenizer(["cafe great"] * 3, TokenizerConfig())
    tok.no_padding()
    assert tok.encode("CAFÉ Great").ids == tok.encode("cafe great").ids


def test_wordpiece_option() -> None:
    tok = train_tokenizer(["an unbelievably good film"] * 20, TokenizerConfig(kind="wordpiece",
                                                                              vocab_size=60))
    assert tok.token_to_id("[PAD]") == 0
    tok.no_padding()
    assert 1 not in tok.encode("unbelievably good").ids
