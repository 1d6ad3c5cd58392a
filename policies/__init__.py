"""The policy files (JSON beside this module) and their reading: file I/O stays out of domain,
which only parses the bytes (domain.policy.policy_from_bytes)."""

from __future__ import annotations

from pathlib import Path

from domain.policy import Policy, policy_from_bytes

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent / "default.json"


def load_policy(path: Path | str = DEFAULT_POLICY_FILE) -> Policy:
    return policy_from_bytes(Path(path).read_bytes())


__all__ = ["DEFAULT_POLICY_FILE", "load_policy"]
