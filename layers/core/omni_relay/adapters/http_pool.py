"""The process's one urllib3 PoolManager, shared by every outbound call (Omni, post-backs)."""

from __future__ import annotations

import urllib3

USER_AGENT = "omni-cancel-relay/1.0"

_pool: urllib3.PoolManager | None = None


def shared_pool() -> urllib3.PoolManager:
    """Created on first use and kept for the life of the execution environment (warm calls reuse sockets)."""
    global _pool
    if _pool is None:
        _pool = urllib3.PoolManager(num_pools=8, maxsize=4, headers={"User-Agent": USER_AGENT})
    return _pool
