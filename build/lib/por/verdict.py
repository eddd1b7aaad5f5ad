"""What a verification concludes: pass or fail, every reason, and the facts shown."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Verdict:
    ok: bool
    reasons: list[str] = field(default_factory=list)   # why it failed (empty when ok)
    facts: dict[str, Any] = field(default_factory=dict)  # what was verified, for output

    def fail(self, reason: str) -> "Verdict":
        self.ok = False
        self.reasons.append(reason)
        return self

    @classmethod
    def start(cls, **facts: Any) -> "Verdict":
        return cls(ok=True, facts=dict(facts))
