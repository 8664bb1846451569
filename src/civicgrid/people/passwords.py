"""Password policy: complexity (GB/T 22239-2019 8.1.4.1 a, 身份鉴别: 口令具有复杂度要求) and a
refusal of the passwords every guessing attack tries first.

Two lists ship as data in ``people/data/``: the 10,000 most common passwords (zxcvbn's frequency
list, MIT) and the ones common among Chinese users (pinyin love phrases, digit runs). A password
is refused when, lower-cased, it is on a list; when its core — the password with trailing digits
and symbols cut, ``Password@2026`` → ``password`` — is; or when it contains the username.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from civicgrid.kit.errors import Invalid

DATA = Path(__file__).resolve().parent / "data"
LIST_FILES = ("common-passwords.txt", "common-passwords-zh.txt")

_CLASSES = (
    (re.compile(r"[a-z]"), "小写字母", "lower-case letters"),
    (re.compile(r"[A-Z]"), "大写字母", "upper-case letters"),
    (re.compile(r"\d"), "数字", "digits"),
    (re.compile(r"[^A-Za-z0-9]"), "符号", "symbols"),
)
MIN_PASSWORD_LENGTH = 8
MIN_PASSWORD_CLASSES = 3
# A core shorter than this ("ab" of "Ab#12345") is too short to be a word someone guesses.
MIN_CORE_LENGTH = 4
_TRAILING = re.compile(r"[\d\W_]+$")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """Every listed password, lower-cased (about 10,100)."""
    words: set[str] = set()
    for name in LIST_FILES:
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                words.add(line.lower())
    return frozenset(words)


def is_common(password: str) -> bool:
    """Whether the password, or its core with trailing digits and symbols cut, is a listed one."""
    lowered = password.lower()
    listed = common_passwords()
    if lowered in listed:
        return True
    core = _TRAILING.sub("", lowered)
    return len(core) >= MIN_CORE_LENGTH and core in listed


def check_password_policy(password: str, username: str | None = None) -> None:
    """Raise :class:`Invalid` (422) unless the password has ≥ 8 characters from ≥ 3 of the four
    classes (lower, upper, digit, symbol), is not a common password and does not contain the
    username."""
    classes = sum(1 for pattern, _, _ in _CLASSES if pattern.search(password))
    if len(password) < MIN_PASSWORD_LENGTH or classes < MIN_PASSWORD_CLASSES:
        raise Invalid(
            f"密码不符合要求：至少 {MIN_PASSWORD_LENGTH} 位，且包含小写字母、大写字母、数字、符号中的至少 "
            f"{MIN_PASSWORD_CLASSES} 类",
            f"Password does not meet the policy: at least {MIN_PASSWORD_LENGTH} characters from at least "
            f"{MIN_PASSWORD_CLASSES} of lower-case letters, upper-case letters, digits and symbols",
            code="weak_password", details={"field": "password"})
    if username and len(username) >= 3 and username.lower() in password.lower():
        raise Invalid("密码不能包含用户名", "The password must not contain the username",
                      code="weak_password", details={"field": "password"})
    if is_common(password):
        raise Invalid("密码过于常见，容易被猜中（如 Password1、Aa123456、woaini1314），请换一个",
                      "This password is too common and easily guessed (like Password1, Aa123456, "
                      "woaini1314); choose another",
                      code="common_password", details={"field": "password"})
