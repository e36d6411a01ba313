"""Rain model runtime: features (numpy) and the lazy TFLite predictor."""
