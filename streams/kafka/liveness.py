"""Whether the Kafka broker answers now: a metadata request that must be answered within a bound.

The join wait of the presence process counts only the time the broker answered
(:meth:`streams.engines.presence.PresenceEngine._await_cad`): while the broker is down or
paused no worker can read ``cad.incidents`` either, so waiting out that time says nothing about
whether the CAD feed stopped.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError

__all__ = ["BrokerLiveness"]

log = logging.getLogger(__name__)

ANSWER_WITHIN_S = 1.0
"""How long the broker has to answer a metadata request for :meth:`BrokerLiveness.answers`."""


class BrokerLiveness:
    """Asks the broker for its metadata, over a connection of its own made on first use."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap.split(",")
        self._client: AIOKafkaClient | None = None

    async def answers(self) -> bool:
        """Whether the broker answered a metadata request within :data:`ANSWER_WITHIN_S`."""
        try:
            await asyncio.wait_for(self._ask(), ANSWER_WITHIN_S)
        except (TimeoutError, KafkaError, OSError) as error:
            log.debug("the broker did not answer: %r", error)
            return False
        return True

    async def _ask(self) -> None:
        if self._client is None:
            client = AIOKafkaClient(bootstrap_servers=self.bootstrap)
            try:
                await client.bootstrap()
            except BaseException:
                await client.close()
                raise
            self._client = client
        await self._client.fetch_all_metadata()

    async def close(self) -> None:
        """Disconnect."""
        if self._client is not None:
            await self._client.close()
            self._client = None
