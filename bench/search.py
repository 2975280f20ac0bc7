"""Find the highest delivery rate that still meets a latency limit with every message delivered.

Climb geometrically until a step misses the loosest limit (or loses anything), then
bisect (geometrically) between the best pass and the lowest fail, for each limit. Steps
are independent measurements on a noisy machine, so "best" is the highest passing
step actually measured, never an interpolation.
"""

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .loadgen import StepResult


@dataclass(frozen=True)
class SearchPlan:
    start_deliveries: float  # per second, to the whole room, at the first step
    factor: float
    climb_steps: int
    bisect_steps: int
    max_deliveries: float  # never offer more than this
    limits_ms: Sequence[float] = (100.0, 200.0)
    resolution: float = 1.1  # stop bisecting when hi/lo is below this


def best(steps: Sequence[StepResult], limit_ms: float) -> StepResult | None:
    """The passing step with the most deliveries/s."""
    passing = [s for s in steps if s.ok(limit_ms)]
    return max(passing, key=lambda s: s.deliveries_per_s, default=None)


def search(
    run: Callable[[float], StepResult], members: int, plan: SearchPlan, deadline: float
) -> list[StepResult]:
    """Run steps (messages/s offered) until both limits are bracketed or time is up."""
    steps: list[StepResult] = []
    loosest, tightest = max(plan.limits_ms), min(plan.limits_ms)

    def step(rate: float) -> StepResult | None:
        if time.monotonic() > deadline:
            return None
        result = run(rate)
        steps.append(result)
        return result

    rate = plan.start_deliveries / members
    for _ in range(plan.climb_steps):
        result = step(rate)
        if result is None or not result.ok(loosest):
            break
        if rate * plan.factor * members > plan.max_deliveries:
            break
        rate *= plan.factor
    # Nothing passed even the tightest limit: come down (a little) until something does.
    for _ in range(3):
        if not steps or best(steps, tightest) is not None:
            break  # out of time before the first step, or a step passed
        if step(min(s.rate for s in steps) / plan.factor) is None:
            break
    for limit in sorted(plan.limits_ms):
        for _ in range(plan.bisect_steps):
            passed = best(steps, limit)
            if passed is None:
                break
            above = [s.rate for s in steps if s.rate > passed.rate and not s.ok(limit)]
            if not above or min(above) / passed.rate < plan.resolution:
                break
            if step(math.sqrt(passed.rate * min(above))) is None:
                break
    return steps
