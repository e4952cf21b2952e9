"""Stable pseudo-random choices: the same inputs give the same answer on every run and machine.

Python's hash() is salted per process and `random` needs a seed to be shared;
a keyed digest of the inputs needs neither.
"""
import hashlib


def stable_fraction(*parts) -> float:
    """A number in [0, 1) fixed by `parts` (e.g. a purpose name and a reader id)."""
    key = "\x1f".join(str(part) for part in parts).encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def stable_fractions(count, *parts) -> list[float]:
    """`count` (at most 8) independent numbers in [0, 1) from one digest of `parts`."""
    key = "\x1f".join(str(part) for part in parts).encode()
    digest = hashlib.blake2b(key, digest_size=8 * count).digest()
    return [int.from_bytes(digest[i:i + 8], "big") / 2**64 for i in range(0, 8 * count, 8)]


def pick(table, *parts):
    """The value chosen from `table`, a sequence of (cumulative share, value) pairs
    ending at 1.0, by `stable_fraction(*parts)`."""
    return choose(table, stable_fraction(*parts))


def choose(table, u):
    """The value of `table` (cumulative share, value pairs) for the fraction `u`."""
    for bound, value in table:
        if u < bound:
            return value
    return table[-1][1]
