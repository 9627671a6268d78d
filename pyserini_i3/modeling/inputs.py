"""What the encoding methods accept: checked once, refused in one line."""

from __future__ import annotations

from collections.abc import Sequence


def check_texts(texts, what: str) -> list[str]:
    """A non-empty list of strings (empty strings allowed), or a one-line error."""
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
        raise TypeError(f"{what} must be a list of strings, not {type(texts).__name__}")
    if len(texts) == 0:
        raise ValueError(f"{what} is an empty list: nothing to encode")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"{what}[{i}] is {type(text).__name__}, not str")
    return list(texts)


def check_titles(titles, n: int) -> list[str | None]:
    """``titles`` for ``n`` texts: a list as long as them of strings or None."""
    if isinstance(titles, (str, bytes)) or not isinstance(titles, Sequence) or len(titles) != n:
        raise ValueError(f"titles must be a list as long as texts ({n})")
    for i, title in enumerate(titles):
        if title is not None and not isinstance(title, str):
            raise TypeError(f"titles[{i}] is {type(title).__name__}, not str")
    return list(titles)
