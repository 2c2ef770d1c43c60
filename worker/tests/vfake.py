"""A fake job runtime for the vertical-data task types' unit tests: PYU calls run at once in this process and record
which party ran what; reveal/wait unwrap. It checks the helpers' logic (who reads and writes which file), not
SecretFlow: the integration tests run the real thing in production mode."""

from __future__ import annotations

from typing import Any, Dict, List


class Obj:
    """A value 'on' a party's PYU."""

    def __init__(self, party: str, value: Any):
        self.party = party
        self.value = value

    @property
    def data(self):  # a VDataFrame partition's .data
        return self


def _unwrap(x, party):
    if isinstance(x, Obj):
        assert x.party == party, f"{party}'s PYU got an object of {x.party}"
        return x.value
    return x


class Pyu:
    def __init__(self, party: str, calls: List):
        self.party = party
        self._calls = calls

    def __call__(self, fn):
        def run(*args, **kwargs):
            self._calls.append((self.party, fn.__name__, args))
            return Obj(self.party, fn(*[_unwrap(a, self.party) for a in args],
                                      **{k: _unwrap(v, self.party) for k, v in kwargs.items()}))
        return run

    def __repr__(self):
        return f"Pyu({self.party})"


class Sf:
    def reveal(self, x):
        if isinstance(x, list):
            return [self.reveal(v) for v in x]
        return x.value if isinstance(x, Obj) else x

    def wait(self, objs):
        self.waited = list(objs)


class VDF:
    """Stands in for a VDataFrame: {pyu: partition} where a partition's .data is an Obj."""

    def __init__(self, partitions: Dict[Any, Obj]):
        self.partitions = partitions


class FakeRt:
    def __init__(self, self_party: str = "alice", parties=("alice", "bob")):
        self.self_party = self_party
        self.parties = list(parties)
        self.calls: List = []
        self.sf = Sf()
        self._pyus = {p: Pyu(p, self.calls) for p in self.parties}

    def pyu(self, party: str) -> Pyu:
        return self._pyus[party]

    def output_path(self, path: str) -> str:
        return path + ".staging"
