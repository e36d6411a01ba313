"""Running it: the model's health checks, /healthz and /metrics, the dyno
memory reporter, and the settings-aware handle on the rain model."""
