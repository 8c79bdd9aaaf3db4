"""``coverwatch topics``: create the contract topics with their partitions and retention configs,
and bring the configs of existing ones in line where the broker's admin API allows it; and
whether a broker answers at all (the embedded stack waits for it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import IncompatibleBrokerVersion, KafkaError

from streams import topics

DYNAMIC_TOPIC_CONFIG = 1
"""``config_source`` of a topic-level override in a DescribeConfigs (v1+) answer."""


@dataclass(frozen=True, slots=True)
class ConfigDrift:
    """An existing topic whose configs differ from the wanted ones: config -> (found, wanted);
    ``found`` None when the broker does not report the config."""

    topic: str
    differences: dict[str, tuple[str | None, str]]
    updated: bool
    problem: str = ""

    def describe(self) -> str:
        """One line: the topic, each differing config, and whether it was updated."""
        configs = ", ".join(
            f"{name} {found if found is not None else '(not reported)'} -> {wanted}"
            for name, (found, wanted) in sorted(self.differences.items())
        )
        outcome = "updated" if self.updated else f"NOT updated: {self.problem}"
        return f"{self.topic}: {configs} ({outcome})"


@dataclass(slots=True)
class TopicsReport:
    """What ``coverwatch topics`` did."""

    created: list[str] = field(default_factory=list)
    in_line: list[str] = field(default_factory=list)
    drifted: list[ConfigDrift] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The report for the operator, one line each."""
        lines = [f"created {len(self.created)} topics: {', '.join(self.created) or '-'}"]
        if self.in_line:
            lines.append(f"{len(self.in_line)} existing topics have the wanted configs")
        lines.extend(drift.describe() for drift in self.drifted)
        return lines

    @property
    def complete(self) -> bool:
        """Whether every topic now has the wanted configs (as far as the broker reports)."""
        return all(drift.updated for drift in self.drifted)


async def broker_answers(bootstrap: str, timeout_ms: int) -> bool:
    """Whether the broker at ``bootstrap`` answers a metadata request within ``timeout_ms``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
    try:
        await admin.start()
        await admin.list_topics()
    except (KafkaError, OSError):
        return False
    finally:
        await admin.close()
    return True


async def ensure_topics(bootstrap: str, prefix: str = "") -> TopicsReport:
    """Create every missing contract topic with its partitions and configs; compare the configs
    of the existing ones and update those that differ (AlterConfigs, keeping the topic's other
    overrides) where the broker supports it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        specs = {f"{prefix}{spec.name}": spec for spec in topics.TOPICS}
        report = TopicsReport()
        wanted = [
            NewTopic(name, spec.partitions, 1, topic_configs=spec.configs)
            for name, spec in specs.items()
            if name not in existing
        ]
        if wanted:
            await admin.create_topics(wanted)
            report.created = [topic.name for topic in wanted]
        present = [name for name in specs if name in existing and specs[name].configs]
        if present:
            found = await topic_configs(admin, present)
            for name in present:
                current, overrides = found.get(name, ({}, {}))
                drift = _differences(current, specs[name].configs)
                if not drift:
                    report.in_line.append(name)
                    continue
                report.drifted.append(
                    await _update(admin, name, drift, {**overrides, **specs[name].configs})
                )
        return report
    finally:
        await admin.close()


async def topic_problems(bootstrap: str, prefix: str = "") -> list[str] | None:
    """What keeps a worker from starting on the broker's topics, one line each: a contract
    topic that is missing, one with other partitions than the contract's, or a compacted one
    that is not (where the broker reports the policy). None when the broker does not answer
    within 10 s: nothing could be checked."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        specs = {f"{prefix}{spec.name}": spec for spec in topics.TOPICS}
        problems = [
            f"{name} is missing (run `coverwatch topics`)" for name in specs if name not in existing
        ]
        present = [name for name in specs if name in existing]
        for entry in await admin.describe_topics(present) if present else []:
            name, found = entry["topic"], len(entry["partitions"])
            if name in specs and found != specs[name].partitions:
                problems.append(
                    f"{name} has {found} partitions; the contract says {specs[name].partitions}"
                )
        compacted = [
            name for name in present if specs[name].configs.get("cleanup.policy") == "compact"
        ]
        if compacted:
            described = await topic_configs(admin, compacted)
            for name in compacted:
                policy = described.get(name, ({}, {}))[0].get("cleanup.policy")
                if policy is not None and policy != "compact":
                    problems.append(
                        f"{name} has cleanup.policy {policy}; the contract says compact"
                    )
        return problems
    except (KafkaError, OSError):
        return None
    finally:
        await admin.close()


def _differences(
    current: Mapping[str, str], wanted: Mapping[str, str]
) -> dict[str, tuple[str | None, str]]:
    return {
        name: (current.get(name), value)
        for name, value in wanted.items()
        if current.get(name) != value
    }


async def topic_configs(
    admin: AIOKafkaAdminClient, names: Sequence[str]
) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """topic -> (every config the broker reports, the topic-level overrides among them)."""
    responses = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    )
    found: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
    for response in responses:
        version = response.API_VERSION
        for resource in response.resources:
            error_code, _message, _kind, name, entries = resource[:5]
            if error_code:
                continue
            configs, overrides = {}, {}
            for entry in entries:
                config, value = entry[0], entry[1]
                if value is None:
                    continue
                configs[config] = value
                if _is_override(version, entry):
                    overrides[config] = value
            found[name] = (configs, overrides)
    return found


def _is_override(version: int, entry: Sequence[Any]) -> bool:
    """Whether a described config is set on the topic itself (v0 says "is default" instead)."""
    if version == 0:
        return not entry[3]
    return bool(entry[3] == DYNAMIC_TOPIC_CONFIG)


async def _update(
    admin: AIOKafkaAdminClient,
    name: str,
    drift: dict[str, tuple[str | None, str]],
    configs: dict[str, str],
) -> ConfigDrift:
    """AlterConfigs replaces every override of a topic: send the existing ones with ours."""
    try:
        responses = await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, configs=configs)]
        )
    except IncompatibleBrokerVersion:
        return ConfigDrift(
            name, drift, False, "the broker does not support AlterConfigs; set them with its tools"
        )
    except KafkaError as error:
        return ConfigDrift(name, drift, False, f"{type(error).__name__}: {error}")
    for response in responses:
        for resource in response.resources:
            if resource[0]:
                return ConfigDrift(name, drift, False, f"error {resource[0]}: {resource[1]}")
    return ConfigDrift(name, drift, True)
