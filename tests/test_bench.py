"""The benchmark's code paths still run (tiny sizes): structure only, never speed."""

from __future__ import annotations

import pytest

from bench.run import Sizes, load_baseline, run, table
from payload.codec import KEYS_ENV, Keyring
from store.personal_data import MASTER_KEYS_ENV

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


async def test_sale_day_at_tiny_size_loses_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """`bench/run.py --sale-day --returns 30 --minutes 0.3`: every shape of the day, through the
    API, with worker.py processes, the mail sink and a webhook receiver; the report's checks
    count what is there, so a lost case, effect, mail or webhook fails them."""
    from bench.sale_day import SHAPES
    from bench.sale_day import main as sale_day
    from bench.sale_day import table as sale_day_table

    monkeypatch.setenv(KEYS_ENV, Keyring.generate("bench-test"))
    monkeypatch.setenv(MASTER_KEYS_ENV, Keyring.generate("bench-test-master"))
    report = await sale_day(returns=30, minutes=0.3, workers=2, write=False)
    assert set(report["shapes"]) == {s.name for s in SHAPES}
    assert report["submit_ms"]["count"] == 30 and 0 < report["submit_ms"]["p50"] <= report["submit_ms"]["max"]
    assert report["http_errors"] == 0, report["http_error_samples"]
    cases = report["cases"]
    assert cases["status_as_expected"] == 30, cases["status_wrong"]
    assert cases["effects_wrong_count"] == 0, cases["effects_wrong"]
    assert cases["refunds"] == cases["refunds_expected"] > 0
    assert cases["store_credits"] == cases["store_credits_expected"] > 0
    assert cases["messages"] == cases["messages_expected"] == report["mail"]["received"]
    for part in ("mail", "webhooks"):
        assert report[part]["missing"] == 0 and report[part]["duplicates"] == 0, report[part]
        assert report[part]["lag_p50_ms"] > 0
    assert report["webhooks"]["received"] == report["webhooks"]["expected"] > 30
    assert report["worker_memory_mb"]["peak_hwm"] > 50 and len(report["worker_memory_mb"]["per_worker"]) == 2
    assert report["nothing_lost"] is True
    assert sale_day_table(report).splitlines()[-1].split() == ["nothing", "lost", "True"]


async def test_scale_out_curve_runs_over_http_with_worker_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """bench/scale_out.py at tiny size: each worker count gets its own worker.py processes and API
    process, and reports its figures; the CPU of the workers is theirs (a count whose workers did
    nothing would show none)."""
    from bench.run import embedded_stack
    from bench.scale_out import bench_scale_out, table_rows

    monkeypatch.setenv(KEYS_ENV, Keyring.generate("bench-test"))
    monkeypatch.setenv(MASTER_KEYS_ENV, Keyring.generate("bench-test-master"))
    async with embedded_stack() as stack:
        result = await bench_scale_out(stack, cases=4, concurrency=2, rounds=1, counts=(1, 2))
    assert set(result["scale_out"]) == {"1", "2"}
    for figures in result["scale_out"].values():
        assert figures["cases_per_s"] > 0 and 0 < figures["submit_p50_ms"] <= figures["submit_p99_ms"]
        assert figures["cpu_ms_per_case_workers"] > 0 and figures["cpu_ms_per_case_temporal"] > 0
        assert 0 < figures["temporal_cpu_share_of_used"] < 1
    assert len(table_rows(result)) == 4
