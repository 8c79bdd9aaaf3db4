"""Kafka: the one package of the service that uses aiokafka (topics, the consumer group, producers
and readers)."""
