"""Okapi BM25 over passages, with terms that work for spaced scripts and for Chinese and Japanese alike.

Written here rather than taken from rank-bm25 (unreleased since 2022, and it pulls in numpy for what is
thirty lines): the ranking is tested directly in tests/test_context.py.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

_WORD = re.compile(r"[^\W_]+")
# Han ideographs and kana are written without spaces: they become overlapping character pairs.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]+")


def terms(text: str) -> list[str]:
    """Lower-cased words; runs of CJK characters as their bigrams (a lone character as itself)."""
    found: list[str] = []
    for match in _WORD.finditer(text.lower()):
        word = match.group()
        position = 0
        for run in _CJK.finditer(word):
            if run.start() > position:
                found.append(word[position:run.start()])
            chars = run.group()
            found += [chars] if len(chars) == 1 else [chars[i:i + 2] for i in range(len(chars) - 1)]
            position = run.end()
        if position < len(word):
            found.append(word[position:])
    return found


class BM25:
    """Scores passages against a query; k1 and b are the usual Okapi constants."""

    def __init__(self, passages: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75) -> None:
        self._k1, self._b = k1, b
        self._counts = [Counter(passage) for passage in passages]
        self._lengths = [len(passage) for passage in passages]
        self._average = (sum(self._lengths) / len(passages)) if passages else 0.0
        frequency: Counter[str] = Counter()
        for counts in self._counts:
            frequency.update(counts.keys())
        n = len(passages)
        # The "+1" form of IDF (as Lucene uses) never goes negative for terms in most passages.
        self._idf = {term: math.log((n - df + 0.5) / (df + 0.5) + 1.0) for term, df in frequency.items()}

    def scores(self, query: Sequence[str]) -> list[float]:
        unique = set(query)
        results = []
        for counts, length in zip(self._counts, self._lengths, strict=True):
            norm = self._k1 * (1 - self._b + self._b * length / self._average) if self._average else self._k1
            score = 0.0
            for term in unique:
                tf = counts.get(term, 0)
                if tf:
                    score += self._idf[term] * tf * (self._k1 + 1) / (tf + norm)
            results.append(score)
        return results
