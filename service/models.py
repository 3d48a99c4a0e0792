"""Pydantic models of the HTTP API: the typed inputs of the ``@bentoml.api`` methods and the
response bodies, from which BentoML builds the OpenAPI schema (``/docs.json``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, JsonValue, create_model
from pydantic.config import JsonDict

EXAMPLE_TEXTS: list[JsonValue] = ["A moving, beautifully acted film.", "Dull and far too long."]
EXAMPLE_RESULT: JsonDict = {"label": "positive", "score": 0.93,
                            "scores": {"negative": 0.07, "positive": 0.93}}


def texts_request(name: str, max_texts: int, max_chars: int) -> type[BaseModel]:
    """The request model ``{"texts": [1..max_texts texts]}`` or ``{"text": "..."}``.

    Exactly one of the two fields is given (``oneOf`` in the schema, checked by the gate, which
    answers every violation with the service's JSON error); unknown fields are refused.
    """
    text = Annotated[str, Field(min_length=1, max_length=max_chars)]
    texts = Annotated[list[text], Field(min_length=1, max_length=max_texts)]
    config = ConfigDict(extra="forbid", json_schema_extra={
        "oneOf": [{"required": ["texts"]}, {"required": ["text"]}],
        "example": {"texts": EXAMPLE_TEXTS}})
    return create_model(
        name, __config__=config,
        texts=(texts | None, Field(None, description=f"texts to score, in order (1..{max_texts}, "
                                   f"each 1..{max_chars} characters)")),
        text=(text | None, Field(None, description="single-text form; the answer has one "
                                 "result")))


class PredictResult(BaseModel):
    """One text's answer."""

    label: str = Field(description="the most probable label")
    score: float = Field(description="probability of that label")
    scores: dict[str, float] = Field(description="probability of every label, in card order")


class PredictResponse(BaseModel):
    """``{"model": name, "version": sha, "results": [one per text, in input order]}``."""

    model_config = ConfigDict(protected_namespaces=(), json_schema_extra={"example": {
        "model": "default", "version": "e54486699152-acc739", "results": [EXAMPLE_RESULT]}})

    model: str = Field(description="card name of the served bundle")
    version: str = Field(description="card version of the served bundle")
    results: list[PredictResult]


class ExplainToken(BaseModel):
    """One scored token of an explanation (see docs/explain.md)."""

    token: str = Field(description="the tokenizer's token (a WordPiece continuation starts with ##)")
    start: int = Field(description="start of its span in the request's text (characters)")
    end: int = Field(description="end of its span, exclusive")
    unk: bool = Field(description="the token is the tokenizer's unknown token [UNK]")
    special: bool = Field(description="a special token added by the tokenizer (no span)")
    running: float | None = Field(description="probability of `target` for the text up to and "
                                  "including this token")
    step: float | None = Field(description="change of the running score this token caused")
    loo: float | None = Field(description="score without this token minus the full score")


class CutToken(BaseModel):
    """A token past the model's max_tokens: not read by the model."""

    token: str
    start: int
    end: int


class ExplainResult(PredictResult):
    """One text's prediction with its per-token explanation."""

    target: str = Field(description="the label whose probability the running score is (binary: "
                        "the card's last label; otherwise the predicted label)")
    baseline: float | None = Field(description="probability of `target` for no tokens at all")
    tokens: list[ExplainToken] = Field(description="the scored tokens, in reading order")
    truncated: list[CutToken] = Field(description="tokens past max_tokens, not scored")


class ExplainResponse(BaseModel):
    """``{"model", "version", "results": [one explanation per text, in input order]}``."""

    model_config = ConfigDict(protected_namespaces=())

    model: str = Field(description="card name of the served bundle")
    version: str = Field(description="card version of the served bundle")
    results: list[ExplainResult]
