"""The course website: ``python -m book`` (``make book``) builds it, ``book.leaks`` checks it."""
