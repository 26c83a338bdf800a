"""Property-based fuzzing of every route and parser (hypothesis), in-process with fakes: no sockets.

Profiles: `ci` (make test) is a fixed-seed run of FUZZ_EXAMPLES (default 150) requests per route;
`soak` (make soak) draws 10,000 fresh ones per route. HYPOTHESIS_PROFILE picks one.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile(
    "ci", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")), derandomize=True, database=None, **_COMMON
)
settings.register_profile("soak", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "10000")), **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
