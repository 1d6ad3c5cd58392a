"""The benchmark's code paths still run (tiny sizes): structure only, never speed."""

from __future__ import annotations

import pytest

from bench.run import Sizes, load_baseline, run, table
from payload.codec import KEYS_ENV, Keyring

pytestmark = pytest.mark.slow  # runs every part of the benchmark, servers included


async def test_bench_runs_every_part_and_reports_every_key(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        load_baseline()
    except FileNotFoundError as e:  # the baselines live beside the repository, not in it
        pytest.skip(str(e))
    monkeypatch.setenv(KEYS_ENV, Keyring.generate("bench-test"))  # run() would set it for good
    sizes = Sizes(
        rounds=1,
        sequential=2,
        concurrent=4,
        concurrency=2,
        appends=80,
        projection_events=60,
        replay=2,
        open_cases=3,
        scale_cases=0,
    )
    result = await run(sizes)
    for key in ("submit_p50_ms", "submit_p99_ms", "submit_p50_ratio"):
        assert set(result[key]) == {"1", "2"} and all(v > 0 for v in result[key].values())
    for key in (
        "cases_per_s",
        "throughput_ratio",
        "append_events_per_s",
        "append_ratio",
        "batch_append_events_per_s",
        "projection_events_per_s",
        "replay_cases_per_s",
        "worker_rss_mb_3_open",
        "webhook_lag_p50_ms",
        "webhook_lag_p99_ratio",
        "http_submit_p50_ms",
        "client_submit_p50_ms",
        "http_submit_p50_ratio",
    ):
        assert result[key] > 0, key
    assert result["projection_events"] >= 60 and result["replay_cases"] == 2
    assert "submit p50 ms, 2 concurrent" in table(result)
    assert "HTTP submit p50 ms (vs client submit)" in table(result)
