"""MAMORI_INGEST_QUEUE / MAMORI_DETECT_QUEUE: unset is Airflow's default queue; a value that cannot be one queue
name fails with the variable's name instead of leaving tasks queued where no worker listens."""

from __future__ import annotations

import pytest

from mamori.config import ConfigError, load_settings


def test_queues_default_to_none_and_read_one_name():
    assert (load_settings({}).ingest_queue, load_settings({}).detect_queue) == (None, None)
    assert load_settings({"MAMORI_INGEST_QUEUE": " "}).ingest_queue is None
    s = load_settings({"MAMORI_INGEST_QUEUE": "mamori_ingest", "MAMORI_DETECT_QUEUE": " mamori_detect "})
    assert (s.ingest_queue, s.detect_queue) == ("mamori_ingest", "mamori_detect")


@pytest.mark.parametrize("value", ["ingest,detect", "mamori ingest"])
def test_a_queue_list_is_refused_with_the_variable_name(value):
    with pytest.raises(ConfigError) as info:
        load_settings({"MAMORI_DETECT_QUEUE": value})
    assert info.value.setting == "MAMORI_DETECT_QUEUE"
