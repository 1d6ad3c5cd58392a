"""Tests that use ../shared skip that part with a reason when it is absent (a clone from a code
host), never running fewer cases without a word."""

from __future__ import annotations

import pytest

import tests.shared
from tests.shared import OWN_CASES, case_files


def test_without_shared_the_shared_part_is_skipped_with_its_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tests.shared, "SHARED_CASES", [])
    with pytest.raises(pytest.skip.Exception) as skipped:
        case_files("shared")
    assert skipped.value.msg == "../shared/cases absent: public past cases not run"
    assert case_files("own") == OWN_CASES and OWN_CASES


def test_with_shared_every_shared_case_is_run(monkeypatch: pytest.MonkeyPatch) -> None:
    shared = [tests.shared.ROOT / "elsewhere" / f"{n:03}.json" for n in range(3)]
    monkeypatch.setattr(tests.shared, "SHARED_CASES", shared)
    assert case_files("shared") == shared
