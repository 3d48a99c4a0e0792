"""Serving side: TF-free bundle loading, onnxruntime inference and the BentoML service."""
