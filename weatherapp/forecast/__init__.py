"""Where a prediction's inputs come from, free of Django: the model's variables
and features, the model card, the canonical CSV, Open-Meteo's hourly shape and
the weather sources. model_tools builds on this package and ai/ only.

This top level stays free of numpy: code that only needs to know *where* the
model is or what it reads (health checks, alert text) does not load it."""
