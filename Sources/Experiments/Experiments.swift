// Experiments runner.
