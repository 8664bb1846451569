"""The forms people use for a division's name, and the level a word's ending names.

Officials, callers and imports say 零陵 for 零陵区, 朝阳 for 朝阳街道, 东岳宫社区 for
东岳宫社区居委会. A division's *forms* are its full name and the names left after removing the
generic endings of its level, longest first; its *core* is the shortest form. An ending a person
did say (街道, 镇, 社区, 村 …) tells the level they mean, so 朝阳街道 asks for a township and
朝阳社区 for a village-level unit (village and community are one level: 村（社区）).
"""

from __future__ import annotations

from civicgrid.city import get_city

# Endings by level, longest first within each; removed one at a time (东岳宫社区居委会 →
# 东岳宫社区 → 东岳宫). A removal that would leave fewer than two characters is not made.
ENDINGS: dict[str, tuple[str, ...]] = {
    "county": ("瑶族自治县", "自治县", "经济技术开发区", "管理区", "区", "县", "市"),
    "township": ("街道办事处", "瑶族乡", "办事处", "街道", "镇", "乡"),
    "village": ("社区居民委员会", "村民委员会", "社区委员会", "社区居委会", "居民委员会", "村委会", "居委会",
                "委员会", "委会", "虚拟生活区", "生活区", "社区", "村"),
}
# The city's own name, which a person may put in front of anything.
MIN_CORE = 2


def forms(name: str, level: str) -> list[str]:
    """The full name, then every shorter form (each ending of the level removed, one after
    another: 东岳宫社区居委会 → 东岳宫社区 → 东岳宫), longest first, ending with the core."""
    found = {name}
    todo = [name]
    endings = ENDINGS.get(level, ())
    while todo:
        current = todo.pop()
        matching = [e for e in endings if current.endswith(e) and len(current) - len(e) >= MIN_CORE]
        for ending in matching:
            shorter = current[: -len(ending)]
            # 县 off 江华瑶族自治县 leaves no word (江华瑶族自治); 居委会 off 东岳宫社区居委会 leaves
            # 东岳宫社区, itself a name with an ending: a shorter ending inside a longer one that
            # matched is removed only when what is left still ends in an ending.
            inside_longer = any(other != ending and other.endswith(ending) for other in matching)
            if inside_longer and not any(shorter.endswith(e) for e in endings):
                continue
            if shorter not in found:
                found.add(shorter)
                todo.append(shorter)
    return sorted(found, key=lambda form: (-len(form), form))


def core(name: str, level: str) -> str:
    """The shortest form: what identifies the place once the level's endings are gone."""
    return forms(name, level)[-1]


def level_hint(word: str) -> str | None:
    """The level a word's ending names (朝阳街道 → township, 朝阳社区 → village), or None when
    the word ends in none of them (朝阳)."""
    best: tuple[int, str] | None = None
    for level, endings in ENDINGS.items():
        for ending in endings:
            if word.endswith(ending) and len(word) > len(ending) and (best is None or len(ending) > best[0]):
                best = (len(ending), level)
    return best[1] if best else None


def normalise(query: str) -> str:
    """The query without spaces and punctuation, and without the city's own name in front."""
    text = "".join(ch for ch in query if not ch.isspace() and ch not in "，,、。.；;：:·-—()（）")
    changed = True
    while changed:
        changed = False
        for word in get_city().spoken_names():  # longest first: 永州市 before 永州
            if text.startswith(word) and len(text) > len(word):
                text = text[len(word):]
                changed = True
                break
    return text
