"""Tokens, requests and estimated cost of a run, per stage, and the budget that stops new model calls.

Counts come from each model response's usage (pydantic-ai's `RequestUsage`); the cost from `genai-prices`, at the
price in force when the response was made (so a replayed run costs what the recorded one did). A model with no
known price has no cost: a money budget cannot be enforced for it, and the run says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel, JsonValue
from pydantic_ai.messages import ModelResponse

from research_nb.core.errors import RunFailure


class BudgetExhausted(RunFailure):
    """The run's token or money budget is spent: no new model call may start."""


class StageUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    cost_usd: float | None = 0.0  # None once a response of unknown price was counted

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, other: StageUsage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.requests += other.requests
        self.cost_usd = None if self.cost_usd is None or other.cost_usd is None else self.cost_usd + other.cost_usd


class UsageRecord(BaseModel):
    """What `state.metadata["usage"]` holds."""

    model: str = ""
    stages: dict[str, StageUsage] = {}
    budget_tokens: int | None = None
    budget_usd: float | None = None
    budget_reached: str | None = None  # why, once reached

    def total(self) -> StageUsage:
        total = StageUsage()
        for usage in self.stages.values():
            total.add(usage)
        return total


@dataclass
class UsageMeter:
    usage: UsageRecord
    unpriced: bool = False  # a response had no known price

    @classmethod
    def resume(
        cls, saved: JsonValue | None, model: str, budget_tokens: int | None, budget_usd: float | None
    ) -> UsageMeter:
        """The meter of a run, continuing from what its state recorded (a resumed run keeps its spending)."""
        usage = UsageRecord.model_validate(saved) if isinstance(saved, Mapping) else UsageRecord()
        usage.model, usage.budget_tokens, usage.budget_usd = model, budget_tokens, budget_usd
        return cls(usage)

    def record(self, stage: str, response: ModelResponse) -> StageUsage:
        """Count one response; returns the run's new total."""
        step = StageUsage(
            input_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
            requests=1,
            cost_usd=_cost(response),
        )
        if step.cost_usd is None:
            self.unpriced = True
        self.usage.stages.setdefault(stage, StageUsage()).add(step)
        self._check_budget()
        return self.usage.total()

    def check(self) -> None:
        """Raise `BudgetExhausted` when no new model call may start."""
        if self.usage.budget_reached:
            raise BudgetExhausted(self.usage.budget_reached)

    @property
    def reached(self) -> str | None:
        return self.usage.budget_reached

    def money_unenforceable(self) -> bool:
        """A money budget was set but a response's price is unknown (tokens still count)."""
        return self.usage.budget_usd is not None and self.unpriced

    def _check_budget(self) -> None:
        if self.usage.budget_reached:
            return
        total = self.usage.total()
        if self.usage.budget_tokens is not None and total.tokens >= self.usage.budget_tokens:
            self.usage.budget_reached = (
                f"the token budget ({self.usage.budget_tokens:,}) was reached after {total.tokens:,} tokens"
            )
        elif (
            self.usage.budget_usd is not None and total.cost_usd is not None and total.cost_usd >= self.usage.budget_usd
        ):
            self.usage.budget_reached = (
                f"the budget of ${self.usage.budget_usd:g} was reached after an estimated ${total.cost_usd:.4f}"
            )


def _cost(response: ModelResponse) -> float | None:
    if not response.model_name:
        return None
    try:
        return float(response.cost().total_price)
    except (LookupError, ValueError, AssertionError):
        return None
