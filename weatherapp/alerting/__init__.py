"""From a probability to a message: the pure decisions, the cycle over cells,
and delivery by email and webhook (with the network guard and unsubscribe
links)."""
