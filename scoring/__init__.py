"""Batch scoring: files in (CSV, JSONL, Parquet), predictions out, resumable, locally or on Ray.

Entry point: :func:`scoring.job.run_job` with a :class:`scoring.job.ScoreConfig`; the CLI is
``sentiment score``. Inference always goes through ``core.runtime.Predictor``, so scores are
those of the HTTP service.
"""
