"""``python -m streams.state > docs/redis-keys.md``: print the key layout as Markdown."""

from streams.state.keys import markdown

print(markdown(), end="")
