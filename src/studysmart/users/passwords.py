"""Password policy: at least 12 characters (OWASP ASVS level 1) and not easy to guess, judged by the zxcvbn
strength estimator with the account's own email and name counted as known words."""

from __future__ import annotations

import re

from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 256
MIN_SCORE = 3  # zxcvbn's "safely unguessable" (about 10^8 guesses and more)
_ESTIMATED = 72  # zxcvbn refuses longer input; a strong start makes a strong password
_WORDS = re.compile(r"[^\W_]+")


def _known_words(user_inputs: list[str]) -> list[str]:
    words: list[str] = []
    for raw in user_inputs:
        value = raw.strip().lower()
        if value:
            words.append(value)
            words.extend(part for part in _WORDS.findall(value) if len(part) >= 3)
    return words


def password_problem(password: str, *, user_inputs: list[str]) -> str | None:
    """Why ``password`` is refused (a sentence for the person choosing it), or None when it is acceptable.

    Args:
        password: the new password.
        user_inputs: what is known about the account (its email, its display name): a password made of them
            is weak.
    """
    if len(password) < MIN_LENGTH:
        return f"use at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"use at most {MAX_LENGTH} characters"
    result = zxcvbn(password[:_ESTIMATED], user_inputs=_known_words(user_inputs))
    if result["score"] >= MIN_SCORE:
        return None
    if any(match.get("dictionary_name") == "user_inputs" for match in result["sequence"]):
        why = "it contains your email or name"
    else:
        why = (result["feedback"].get("warning") or "it follows a common pattern").rstrip(".")
        why = why[0].lower() + why[1:]
    advice = " ".join(result["feedback"].get("suggestions") or ["Add another word or two."])
    return f"too easy to guess: {why}. {advice}"
