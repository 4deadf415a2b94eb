"""The rebuild's range computation of usage signals equals the per-day definition, day by day."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from engine.health import HealthSettings, Inputs
from engine.health.signals import USAGE_SIGNALS, as_of_value, usage_signals
from engine.health.usage_range import usage_signal_range
from engine.store import Store
import test_health_fixtures as fx

# days around the fixture's events (04-16, 05-10…05-15, 06-20…06-29) and their 30/60/90-day edges
DAYS = [dt.date(2026, 4, 1), dt.date(2026, 4, 16), dt.date(2026, 5, 12), dt.date(2026, 5, 15), dt.date(2026, 6, 9),
        dt.date(2026, 6, 14), dt.date(2026, 6, 15), dt.date(2026, 6, 30), dt.date(2026, 7, 12), dt.date(2026, 7, 14),
        dt.date(2026, 7, 15), dt.date(2026, 7, 19), dt.date(2026, 7, 20), dt.date(2026, 7, 31)]


@pytest.mark.parametrize("settings", [HealthSettings(), HealthSettings(core_features=["f1", "f3"])])
def test_range_matches_per_day_signals(tmp_path, settings):
    with Store(tmp_path / "nrr.duckdb") as store:
        records = Inputs.from_store(fx.load(store), "files")
        rng = usage_signal_range(records.usage, records.accounts, settings, DAYS[0], DAYS[-1])
        assert len(rng) == 4 * ((DAYS[-1] - DAYS[0]).days + 1)  # every account, every day
        for day in DAYS:
            one = usage_signals(records.usage, records.accounts, settings, as_of_value(day)).to_pandas()
            one = one.set_index("account_id").sort_index()[list(USAGE_SIGNALS)]
            got = rng[rng["day"] == day].set_index("account_id").sort_index()[list(USAGE_SIGNALS)]
            pd.testing.assert_frame_equal(got, one, check_dtype=False, atol=1e-12, obj=str(day))
