"""Compare an endpoint's JSON with its recount: every number, named by its path."""
from collections import Counter
from dataclasses import dataclass, field

from .recount import Ranking

FLOAT_TOLERANCE = 0.01  # values are shown with 2 decimals; SQL and Python may round the last one apart


@dataclass
class Outcome:
    checked: int = 0
    mismatches: list = field(default_factory=list)

    def fail(self, path, message):
        self.mismatches.append(f"{path}: {message}")


def _has_number(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    if isinstance(value, dict):
        return any(_has_number(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_number(v) for v in value)
    return False


def compare(actual, expected, path="", outcome=None, ignore=()) -> Outcome:
    """Check `actual` (endpoint JSON) against `expected` (recount); top-level keys in `ignore` are skipped."""
    outcome = outcome or Outcome()
    if isinstance(expected, Ranking):
        _compare_ranking(actual, expected, path, outcome)
    elif isinstance(expected, dict):
        if not isinstance(actual, dict):
            outcome.fail(path, f"expected an object, got {actual!r}")
            return outcome
        for key, value in expected.items():
            sub = f"{path}.{key}" if path else key
            if key not in actual:
                outcome.fail(sub, "missing from the endpoint")
            else:
                compare(actual[key], value, sub, outcome)
        for key in actual.keys() - expected.keys() - set(ignore):
            if _has_number(actual[key]):
                outcome.fail(f"{path}.{key}" if path else key, "a number with no independent recount")
    elif isinstance(expected, bool) or isinstance(expected, str):
        outcome.checked += 1
        if actual != expected:
            outcome.fail(path, f"endpoint {actual!r}, recount {expected!r}")
    elif isinstance(expected, float):
        outcome.checked += 1
        if isinstance(actual, bool) or not isinstance(actual, (int, float)) \
                or abs(actual - expected) > FLOAT_TOLERANCE:
            outcome.fail(path, f"endpoint {actual!r}, recount {expected!r}")
    else:
        outcome.checked += 1
        if type(actual) is not int or actual != expected:
            outcome.fail(path, f"endpoint {actual!r}, recount {expected!r}")
    return outcome


def _compare_ranking(actual, expected: Ranking, path, outcome):
    """A top-N list is right when it holds real (label, value) pairs, in order, with the N largest values."""
    if not isinstance(actual, list):
        outcome.fail(path, f"expected a list, got {actual!r}")
        return
    top = sorted((value for _, value in expected.pairs), reverse=True)[:expected.size]
    shown = [item.get(expected.value) for item in actual]
    outcome.checked += len(actual) + 1
    if shown != top:
        outcome.fail(path, f"endpoint values {shown}, recount top {expected.size} values {top}")
    available = Counter(expected.pairs)
    for item in actual:
        pair = (item.get(expected.label), item.get(expected.value))
        if available[pair] <= 0:
            outcome.fail(path, f"{expected.label} {pair[0]!r} with {expected.value} {pair[1]!r} not in the recount")
        available[pair] -= 1
