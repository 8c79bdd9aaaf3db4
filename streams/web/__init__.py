"""HTTP: health, Prometheus exposition, the JSON API and the live page."""
