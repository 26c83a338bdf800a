"""Wraps the handler under test (BENCH_HANDLER, module.function) inside the runtime process and
reports, per invocation, the handler's own time and the part of it spent waiting for Omni (urllib3
calls to BENCH_OMNI_PORT), as one `BENCH {...}` line on stderr. Same probe for every variant."""

import importlib
import json
import os
import sys
import time

_module, _, _function = os.environ["BENCH_HANDLER"].rpartition(".")
_target = getattr(importlib.import_module(_module), _function)
_omni_port = int(os.environ.get("BENCH_OMNI_PORT") or 0)
_waiting = [0.0]

if "urllib3" in sys.modules:  # the floor never imports it: patch only what the handler already loaded
    from urllib3.connectionpool import HTTPConnectionPool

    _urlopen = HTTPConnectionPool.urlopen

    def _timed_urlopen(self, *args, **kwargs):
        if self.port != _omni_port:
            return _urlopen(self, *args, **kwargs)
        started = time.perf_counter()
        try:
            return _urlopen(self, *args, **kwargs)
        finally:
            _waiting[0] += time.perf_counter() - started

    HTTPConnectionPool.urlopen = _timed_urlopen


_profile_to = os.environ.get("BENCH_PROFILE")  # a path: cProfile requests 50..549 there (diagnosis only)
_calls = [0]
if _profile_to:
    import cProfile

    _profiler = cProfile.Profile()


def handler(event, context):
    _calls[0] += 1
    if _profile_to and _calls[0] == 50:
        _profiler.enable()
    if _profile_to and _calls[0] == 550:
        _profiler.disable()
        _profiler.dump_stats(_profile_to)
    _waiting[0] = 0.0
    started = time.perf_counter()
    result = _target(event, context)
    took = time.perf_counter() - started
    sys.stderr.write("BENCH " + json.dumps({"handler_ms": took * 1000, "omni_ms": _waiting[0] * 1000}) + "\n")
    sys.stderr.flush()
    return result
