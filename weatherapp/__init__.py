"""weatheralert's Django app: places, predictions, alerts."""
