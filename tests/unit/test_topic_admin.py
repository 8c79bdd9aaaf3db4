"""What `coverwatch topics` reports about existing topics' configs."""

from __future__ import annotations

from streams.kafka.admin import ConfigDrift, TopicsReport, _differences, _is_override


def test_only_wanted_configs_that_differ_or_are_not_reported_count_as_drift() -> None:
    current = {"cleanup.policy": "delete", "retention.ms": "86400000", "segment.ms": "1"}
    wanted = {"cleanup.policy": "delete", "retention.ms": "604800000", "max.message.bytes": "9"}
    assert _differences(current, wanted) == {
        "retention.ms": ("86400000", "604800000"),
        "max.message.bytes": (None, "9"),
    }


def test_a_topic_level_override_is_told_from_a_default_in_every_describe_version() -> None:
    assert _is_override(0, ("retention.ms", "1", False, False, False))
    assert not _is_override(0, ("retention.ms", "1", False, True, False))
    assert _is_override(1, ("retention.ms", "1", False, 1, False, []))
    assert not _is_override(1, ("retention.ms", "1", False, 5, False, []))


def test_the_report_names_each_topic_that_could_not_be_brought_in_line() -> None:
    report = TopicsReport(
        created=["airwave.pings"],
        in_line=["cad.incidents"],
        drifted=[
            ConfigDrift("resources.roster", {"retention.ms": (None, "-1")}, updated=True),
            ConfigDrift(
                "clock.ticks",
                {"retention.ms": ("3600000", "604800000")},
                updated=False,
                problem="the broker does not support AlterConfigs",
            ),
        ],
    )
    assert report.lines() == [
        "created 1 topics: airwave.pings",
        "1 existing topics have the wanted configs",
        "resources.roster: retention.ms (not reported) -> -1 (updated)",
        "clock.ticks: retention.ms 3600000 -> 604800000 (NOT updated: the broker does not "
        "support AlterConfigs)",
    ]
    assert not report.complete
