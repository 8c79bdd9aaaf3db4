"""The embedded stack: a Kafka-protocol broker and Redis on loopback ports, and ``coverwatch
up``."""
