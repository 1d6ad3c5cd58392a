from __future__ import annotations

import json
import os
from pathlib import Path

from activities.policy import PolicyActivities
from policies import DEFAULT_POLICY_FILE


async def test_policy_is_read_again_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    settings = json.loads(DEFAULT_POLICY_FILE.read_text())
    path.write_text(json.dumps(settings))
    acts = PolicyActivities(path)
    first = await acts.load_policy()
    assert await acts.load_policy() is first  # unchanged file: the parsed policy is reused
    path.write_text(json.dumps({**settings, "return_window_days": 60}))
    os.utime(path, ns=(1, 1))  # a different stamp even within the clock's resolution
    changed = await acts.load_policy()
    assert changed.return_window_days == 60 and changed.version != first.version
