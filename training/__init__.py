"""Training side: datasets -> tokenizer -> Keras RNN -> tf2onnx export -> model bundle."""
