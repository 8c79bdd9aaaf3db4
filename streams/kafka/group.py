"""The workers' Kafka consumer group (``COVERWATCH_APP_ID``) seen from outside the workers: what
``coverwatch rebuild`` and the epoch check need (the rebuild reads the input topics without it,
:mod:`streams.kafka.reader`).

A rebuild makes the workers re-read their inputs from the earliest offsets by deleting the
group (its committed offsets with it): a worker of a group without offsets starts at the
earliest offset (``consumer_auto_offset_reset="earliest"``, :mod:`streams.app`). The broker
deletes only an empty group, so this also proves that no worker runs. (Committing the earliest
offsets as a member of the group would do too on Apache Kafka, where an empty group takes a
member of any protocol; Tansu, the embedded broker, refuses a plain consumer's join with
InconsistentGroupProtocol even once Faust's workers have left.)
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import DeleteGroupsRequest

from streams import topics
from streams.kafka.reader import REQUEST_TIMEOUT_MS
from streams.settings import Settings

GROUP_NOT_EMPTY = 68
GROUP_ID_NOT_FOUND = 69


class GroupBusyError(RuntimeError):
    """The group has members: workers run (or died less than a session timeout ago)."""


class MissingTopicsError(RuntimeError):
    """Input topics the workers consume do not exist on the broker."""


def input_partitions(settings: Settings) -> list[TopicPartition]:
    """Every partition of every input topic the workers consume (with the topic prefix)."""
    return [
        TopicPartition(settings.topic(spec.name), partition)
        for spec in topics.TOPICS
        if spec.direction == "input"
        for partition in range(spec.partitions)
    ]


async def group_has_committed(settings: Settings) -> bool:
    """Whether the workers' consumer group has a committed offset on any input partition (read
    without joining the group)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=settings.app_id,
        enable_auto_commit=False,
        request_timeout_ms=REQUEST_TIMEOUT_MS,
    )
    await consumer.start()
    try:
        for partition in input_partitions(settings):
            if await consumer.committed(partition) is not None:
                return True
        return False
    finally:
        await consumer.stop()


class GroupAdmin:
    """The group's members and its deletion, and the input topics' existence."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.admin = AIOKafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap, request_timeout_ms=REQUEST_TIMEOUT_MS
        )

    async def start(self) -> None:
        """Connect to the broker."""
        await self.admin.start()

    async def close(self) -> None:
        """Disconnect."""
        await self.admin.close()

    async def check_topics(self) -> None:
        """:class:`MissingTopicsError` unless every input topic exists."""
        wanted = {partition.topic for partition in input_partitions(self.settings)}
        missing = wanted - set(await self.admin.list_topics())
        if missing:
            raise MissingTopicsError(", ".join(sorted(missing)))

    async def check_idle(self) -> None:
        """:class:`GroupBusyError` while the group has members."""
        described = await self.admin.describe_consumer_groups([self.settings.app_id])
        for response in described:
            for group in response.groups:
                members = len(group[5])
                if members:
                    raise GroupBusyError(
                        f"consumer group {self.settings.app_id} has {members} active "
                        f"member{'s' if members > 1 else ''} (state {group[2]})"
                    )

    async def wait_idle(self, timeout_s: float) -> None:
        """:meth:`check_idle`, waiting up to ``timeout_s`` for the members of workers that were
        just stopped to leave (a member that did not leave cleanly stays until its session
        times out); :class:`GroupBusyError` if one is still there then."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                await self.check_idle()
            except GroupBusyError:
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(1.0)
            else:
                return

    async def delete_group(self) -> bool:
        """Delete the group and its committed offsets; whether it existed.
        :class:`GroupBusyError` if it has members (the broker refuses)."""
        node = await self.admin.find_coordinator(self.settings.app_id)
        # aiokafka's admin client has no call for DeleteGroups; its request is sent as is
        response = await self.admin._send_request(DeleteGroupsRequest([self.settings.app_id]), node)
        for _group, error_code in response.results:
            if error_code == GROUP_ID_NOT_FOUND:
                return False
            if error_code == GROUP_NOT_EMPTY:
                raise GroupBusyError(f"consumer group {self.settings.app_id} is not empty")
            if error_code:
                raise for_code(error_code)(f"deleting consumer group {self.settings.app_id}")
        return True
