"""Offline toolchain: observations -> Keras model -> INT8 TFLite model + card.

TensorFlow is imported only inside the steps that need it (train, convert);
`parity` runs with the runtime requirements alone.
"""
