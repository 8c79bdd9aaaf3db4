"""Read every Redis value under a key prefix, to compare state before and after a replay."""

from __future__ import annotations

import redis


def dump(url: str, prefix: str, *, skip_suffixes: tuple[str, ...] = ()) -> dict[str, object]:
    """key -> value (hash as dict, zset as list of (member, score), list as list, set as sorted
    list, string as bytes)."""
    client = redis.Redis.from_url(url)
    found: dict[str, object] = {}
    try:
        for raw_key in client.scan_iter(match=f"{prefix}:*", count=1000):
            key = raw_key.decode()
            if key.endswith(skip_suffixes):
                continue
            kind = client.type(raw_key).decode()
            if kind == "hash":
                found[key] = client.hgetall(raw_key)
            elif kind == "zset":
                found[key] = client.zrange(raw_key, 0, -1, withscores=True)
            elif kind == "string":
                found[key] = client.get(raw_key)
            elif kind == "list":
                found[key] = client.lrange(raw_key, 0, -1)
            elif kind == "set":
                found[key] = sorted(client.smembers(raw_key))
            else:
                found[key] = kind
    finally:
        client.close()
    return found


def key_types(url: str, prefix: str) -> dict[str, str]:
    """key -> its Redis type, of every key under ``prefix``."""
    client = redis.Redis.from_url(url)
    try:
        return {
            raw_key.decode(): client.type(raw_key).decode()
            for raw_key in client.scan_iter(match=f"{prefix}:*", count=1000)
        }
    finally:
        client.close()
