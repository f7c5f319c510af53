"""Django's cache on Redis Sentinel.

Django's `RedisCache` builds its connection pool as `pool_class.from_url(LOCATION, **OPTIONS)`;
this pool asks the sentinels for the current master instead of connecting to LOCATION's host,
and takes only the database number and password from LOCATION (REDIS_URL). The channel layers
have Sentinel from channels_redis itself (project.config.channel_layers_config).
"""

from __future__ import annotations

from typing import Any

from redis.sentinel import Sentinel, SentinelConnectionPool

from project import config


class SentinelCachePool(SentinelConnectionPool):
    @classmethod
    def from_url(  # type: ignore[override]
        cls, url: str, *, sentinels: list[tuple[str, int]], master_name: str, **options: Any
    ) -> SentinelCachePool:
        credentials = config.redis_credentials(url)
        # The sentinels themselves are asked without the master's password.
        return cls(master_name, Sentinel(sentinels), **credentials, **options)
