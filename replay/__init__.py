"""Replay of past cases' histories against today's workflow code (``python -m replay``); the
engineer's check before a change to workflows/ is merged. See ``replay.histories``."""
