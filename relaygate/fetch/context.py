"""Fitting documents into a token budget: all of them when they fit, else the passages that best match the question."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from relaygate.fetch.document import Document, Part, compress_refs
from relaygate.fetch.ranking import BM25, terms

TokenCounter = Callable[[str], int]
PASSAGE_CHARS = 1500
_GIVE_UP_AFTER = 64
"""Ranked passages that may fail to fit in a row before the budget counts as full."""


@dataclass(frozen=True, slots=True)
class Excerpt:
    ref: str
    text: str

    def render(self) -> str:
        return f"[{self.ref}]\n{self.text}"


@dataclass(frozen=True, slots=True)
class FittedDocument:
    """What of one document goes into the prompt, in reading order, and what was left out."""

    document: Document
    excerpts: tuple[Excerpt, ...]
    complete: bool
    omitted: tuple[str, ...]
    """References of parts left out entirely, runs merged ("pages 4–9")."""
    partial: tuple[str, ...]
    """References of parts of which only some passages are included."""
    included: tuple[str, ...] = ()
    """References of parts of which some or all is included, runs merged ("pages 1–3")."""

    def text(self) -> str:
        return "\n\n".join(excerpt.render() for excerpt in self.excerpts)

    def note(self) -> str:
        """One sentence for the prompt saying how much of the document this is."""
        if self.complete:
            return "The whole document is included."
        if not self.excerpts:
            return "None of this document fits in the context; it is left out."
        note = ("Only part of the document fits: the passages that best match the question are included "
                "(then, as room allows, others in reading order).")
        if self.partial:
            note += " In part: " + ", ".join(self.partial) + "."
        if self.omitted:
            note += " Left out: " + ", ".join(self.omitted) + "."
        return note


@dataclass(frozen=True, slots=True)
class Fitting:
    documents: tuple[FittedDocument, ...]
    tokens: int
    """Tokens of every rendered excerpt, as counted by the caller's counter (separators included)."""

    @property
    def complete(self) -> bool:
        return all(d.complete for d in self.documents)


@dataclass(frozen=True, slots=True)
class _Passage:
    document: int
    part: int
    ref: str
    text: str


def _pieces(text: str, limit: int) -> list[str]:
    """Text cut at line ends (a long line at a space, else anywhere) into pieces of at most `limit` characters."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                pieces.append(current)
                current = ""
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            pieces.append(line[:cut])
            line = line[cut:]
        if current and len(current) + len(line) > limit:
            pieces.append(current)
            current = ""
        current += line
    if current:
        pieces.append(current)
    return [piece.strip("\n") for piece in pieces if piece.strip()]


def _split_part(part: Part, limit: int = PASSAGE_CHARS) -> list[str]:
    """A part's passages; a Markdown table's header is repeated on every passage cut from it."""
    lines = part.text.split("\n", 2)
    if len(lines) == 3 and lines[0].startswith("|") and lines[1].startswith("|---"):
        header = lines[0] + "\n" + lines[1] + "\n"
        return [header + piece for piece in _pieces(lines[2], max(limit - len(header), limit // 4))]
    return _pieces(part.text, limit)


def _passages(documents: Sequence[Document]) -> list[_Passage]:
    found = []
    for d, document in enumerate(documents):
        for p, part in enumerate(document.parts):
            pieces = _split_part(part)
            for i, piece in enumerate(pieces, start=1):
                ref = part.ref if len(pieces) == 1 else f"{part.ref}, passage {i} of {len(pieces)}"
                found.append(_Passage(d, p, ref, piece))
    return found


def _documents(documents: Sequence[Document], passages: list[_Passage], chosen: set[int]) -> list[FittedDocument]:
    by_part: dict[tuple[int, int], list[int]] = {}
    for i, passage in enumerate(passages):
        by_part.setdefault((passage.document, passage.part), []).append(i)
    fitted = []
    for d, document in enumerate(documents):
        omitted: list[Part] = []
        present: list[Part] = []
        partial: list[str] = []
        kept: list[int] = []
        for p, part in enumerate(document.parts):
            indexes = by_part.get((d, p), [])
            included = [i for i in indexes if i in chosen]
            kept += included
            if not included:
                omitted.append(part)
                continue
            present.append(part)
            if len(included) < len(indexes):
                partial.append(part.ref)
        excerpts = tuple(Excerpt(passages[i].ref, passages[i].text) for i in kept)
        fitted.append(FittedDocument(document, excerpts, complete=not omitted and not partial,
                                     omitted=tuple(compress_refs(omitted)), partial=tuple(partial),
                                     included=tuple(compress_refs(present))))
    return fitted


def _ranked(passages: list[_Passage], question: str) -> list[int]:
    """Passage indexes, best match first; passages sharing no term with the question follow in reading order."""
    scores = BM25([terms(p.text) for p in passages]).scores(terms(question))
    return sorted(range(len(passages)), key=lambda i: (-scores[i], i))


def fit_context(documents: Sequence[Document], question: str, budget: int, count_tokens: TokenCounter) -> Fitting:
    """The documents' text within `budget` tokens: whole when it fits, else the passages most relevant to
    `question` (BM25), kept in reading order with their references and a note of what was left out.

    `count_tokens` is the base model's counter; it is called once per passage considered. Pure and CPU-bound:
    for very large documents, run it in a thread.
    """
    passages = _passages(documents)
    costs: dict[int, int] = {}

    def cost(i: int) -> int:
        if i not in costs:
            costs[i] = count_tokens(f"[{passages[i].ref}]\n{passages[i].text}") + 1  # +1: the blank line between
        return costs[i]

    total = 0
    for i in range(len(passages)):
        total += cost(i)
        if total > budget:
            break
    else:
        return Fitting(tuple(_documents(documents, passages, set(range(len(passages))))), total)
    chosen: set[int] = set()
    used, misses = 0, 0
    for i in _ranked(passages, question):
        if used + cost(i) <= budget:
            chosen.add(i)
            used += cost(i)
            misses = 0
        else:
            misses += 1
            if misses >= _GIVE_UP_AFTER:
                break
    return Fitting(tuple(_documents(documents, passages, chosen)), used)
