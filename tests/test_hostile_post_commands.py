"""10,000 hostile payloads on each of the screening post's node commands: every one answered,
nothing crashes, and the node serves a real check-in and ticket afterwards (the runs live in
tests/test_hostile_commands.py; this file lets a second test worker take the post's share)."""
from __future__ import annotations

import pytest

from tests.test_hostile_commands import POST_COMMANDS, check_hostile_run


@pytest.mark.slow
@pytest.mark.parametrize("name", POST_COMMANDS)
def test_every_hostile_payload_on_a_post_command_is_answered_and_serving_goes_on(tmp_path, broker, name, caplog):
    check_hostile_run(tmp_path, broker, name, caplog)
