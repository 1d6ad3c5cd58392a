"""Loading the policy file the worker is configured with; its version goes into the case's events."""

from __future__ import annotations

from pathlib import Path

from temporalio import activity

from domain.policy import Policy
from policies import load_policy


class PolicyActivities:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._cached: tuple[tuple[int, int], Policy] | None = None

    @activity.defn
    async def load_policy(self) -> Policy:
        # Every case starts with this: parse the file again only when it changed on disk, so an
        # edited policy still reaches the next case without a restart.
        st = self._path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        if self._cached is None or self._cached[0] != stamp:
            self._cached = (stamp, load_policy(self._path))
        return self._cached[1]
