"""Kafka: the one package of the service that uses aiokafka: topics (:mod:`.admin`), the
workers' consumer group (:mod:`.group`), producers (:mod:`.producer`), readers outside any group
(:mod:`.reader`) and which broker errors are waited out (:mod:`.errors`)."""
