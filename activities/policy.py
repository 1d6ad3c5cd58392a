"""Loading the policy file the worker is configured with; its version goes into the case's events."""

from __future__ import annotations

from pathlib import Path

from temporalio import activity

from domain.policy import Policy, load_policy


class PolicyActivities:
    def __init__(self, path: Path) -> None:
        self._path = path

    @activity.defn
    async def load_policy(self) -> Policy:
        return load_policy(self._path)
