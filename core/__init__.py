"""The bundle contract and the TF-free runtime: bundles, tokenization, onnxruntime inference.

Imports no HTTP, BentoML or TensorFlow; ``training``, ``service`` and ``scoring`` stand on it.
"""
