"""The rain model's runtime: ``predictor.py`` (numpy and tflite-runtime, loaded
on the first prediction, never at import). Free of Django, like forecast/."""
