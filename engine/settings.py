"""Typed engine settings shared by every engine module.

Each engine area owns its own settings model (revenue here; health, triggers and
renewals next to their code). The application shell reads them from ``nrr.toml`` and
passes them explicitly to engine functions; the engine never reads files itself.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class EngineModel(BaseModel):
    """Base for settings: unknown keys are errors, so typos in nrr.toml are caught."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class RevenueSettings(EngineModel):
    """Reporting currency and fixed FX rates (constant-currency reporting).

    ``fx_rates`` maps a currency code to the number of reporting-currency units one unit
    of it is worth (e.g. ``EUR = 1.08`` when reporting in USD). The reporting currency
    itself is always 1. A contract in a currency with no rate is an error.
    """

    reporting_currency: str = "USD"
    fx_rates: dict[str, Decimal] = Field(default_factory=lambda: {"EUR": Decimal("1.08"), "GBP": Decimal("1.27")})

    @field_validator("reporting_currency")
    @classmethod
    def _upper(cls, v: str) -> str:
        if len(v) != 3 or not v.isalpha():
            raise ValueError("expected a three-letter ISO currency code such as USD")
        return v.upper()

    @field_validator("fx_rates")
    @classmethod
    def _positive(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        for code, rate in v.items():
            if rate <= 0:
                raise ValueError(f"rate for {code} must be positive, got {rate}")
        return {k.upper(): r for k, r in v.items()}

    def rate(self, currency: str) -> Decimal:
        cur = currency.upper()
        if cur == self.reporting_currency:
            return Decimal(1)
        if cur not in self.fx_rates:
            raise KeyError(cur)
        return self.fx_rates[cur]
