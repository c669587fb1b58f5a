"""Fitting documents to a token budget: whole when they fit, else the passages that answer the question, with refs."""

from __future__ import annotations

import pytest

from relaygate.billing.tokens import TokenCounter
from relaygate.fetch import Document, FileKind, Part, fit_context
from relaygate.fetch.ranking import BM25, terms

COUNT = TokenCounter().count


def doc(*parts: Part, name: str = "doc.pdf", kind: FileKind = FileKind.PDF) -> Document:
    return Document(name=name, kind=kind, size=1000, sha256="0" * 64, parts=parts)


def pages(texts: list[str]) -> Document:
    return doc(*(Part("page", str(i), text) for i, text in enumerate(texts, start=1)))


def filler(n: int) -> str:
    return f"Page {n} is about gardening, soil, compost and the seasons of planting. " * 12


def test_terms_are_lowercased_words_and_cjk_bigrams() -> None:
    assert terms("Hello, World! GPT-4o") == ["hello", "world", "gpt", "4o"]
    assert terms("添加域名的api是什么?") == ["添加", "加域", "域名", "名的", "api", "是什", "什么"]
    assert terms("域") == ["域"]
    assert terms("snake_case") == ["snake", "case"]


def test_bm25_ranks_the_passage_sharing_the_rare_terms_first() -> None:
    passages = [terms(t) for t in ["the cat sat on the mat", "the dog chased the cat", "quantum chromodynamics",
                                   "the the the the"]]
    scores = BM25(passages).scores(terms("cat chased"))
    assert scores.index(max(scores)) == 1
    assert scores[2] == 0.0 and scores[3] == 0.0
    assert scores[0] > 0.0


def test_bm25_prefers_the_shorter_passage_for_the_same_term_count() -> None:
    short, long = terms("domain api"), terms("domain api " + "padding words here " * 20)
    scores = BM25([short, long, terms("unrelated text")]).scores(["domain"])
    assert scores[0] > scores[1] > scores[2] == 0.0


def test_a_document_that_fits_is_given_whole_in_reading_order() -> None:
    document = pages([filler(1), filler(2), "The domain API is POST /api/domain."])
    fitting = fit_context([document], "what is the domain api?", 100_000, COUNT)
    fitted = fitting.documents[0]
    assert fitting.complete and fitted.complete and fitted.omitted == () and fitted.partial == ()
    assert [e.ref for e in fitted.excerpts] == ["page 1", "page 2", "page 3"]
    assert fitted.text() == document.text() and fitted.note() == "The whole document is included."
    assert fitting.tokens == sum(COUNT(e.render()) + 1 for e in fitted.excerpts)


def test_a_document_too_large_gives_the_most_relevant_pages_with_what_was_left_out() -> None:
    texts = [filler(n) for n in range(1, 41)]
    texts[26] = "Adding a domain: the API that adds a domain is POST /api/domain with a JSON body. " * 3
    fitting = fit_context([pages(texts)], "Which API adds a domain?", 400, COUNT)
    fitted = fitting.documents[0]
    # Page 27 answers; what room is left goes to the beginning; excerpts come in reading order, not rank order.
    assert [e.ref for e in fitted.excerpts] == ["page 1", "page 27"]
    assert not fitted.complete and not fitting.complete and fitting.tokens <= 400
    assert fitted.omitted == ("pages 2–26", "pages 28–40")
    assert fitted.note().endswith("Left out: pages 2–26, pages 28–40.") and "best match the question" in fitted.note()


def test_the_seed_question_in_chinese_finds_its_page() -> None:
    texts = [filler(n) for n in range(1, 30)]
    texts[17] = "域名管理。添加域名的API是 POST /api/v1/domains，请求体包含 domain 字段。删除域名使用 DELETE。"
    fitting = fit_context([pages(texts)], "添加域名的api是什么?", 300, COUNT)
    assert "page 18" in [e.ref for e in fitting.documents[0].excerpts]
    assert "POST /api/v1/domains" in fitting.documents[0].text()


def test_the_budget_is_never_exceeded_and_shared_across_documents() -> None:
    first = pages([filler(n) for n in range(1, 20)])
    second = doc(*(Part("slide", str(n), f"Slide {n}: latency numbers for region {n}. " * 8) for n in range(1, 20)),
                 name="deck.pptx", kind=FileKind.PPTX)
    for budget in [0, 50, 333, 1000, 2500]:
        fitting = fit_context([first, second], "latency for region 7", budget, COUNT)
        used = sum(COUNT(e.render()) + 1 for d in fitting.documents for e in d.excerpts)
        assert used == fitting.tokens <= budget
    fitting = fit_context([first, second], "latency for region 7", 300, COUNT)
    assert "slide 7" in [e.ref for e in fitting.documents[1].excerpts]
    assert fit_context([first], "x", 0, COUNT).documents[0].note().startswith("None of this document fits")


def test_a_long_page_is_cut_into_passages_and_a_partly_included_page_is_named() -> None:
    long_page = "\n".join(f"Line {i}: notes on compost and soil." for i in range(300))
    long_page += "\nThe secret ingredient is POST /api/domain."
    fitting = fit_context([pages([long_page])], "secret ingredient api domain", 200, COUNT)
    fitted = fitting.documents[0]
    assert fitted.partial == ("page 1",) and fitted.omitted == ()
    assert fitted.excerpts[-1].ref.startswith("page 1, passage ")
    assert "secret ingredient" in fitted.text() and "In part: page 1." in fitted.note()


def test_a_table_cut_into_passages_repeats_its_header() -> None:
    rows = "\n".join(f"| item-{i} | {i * 3} |" for i in range(400))
    sheet = doc(Part("sheet", "«Stock» rows 2–401", "| Item | Count |\n|---|---|\n" + rows), kind=FileKind.XLSX)
    fitting = fit_context([sheet], "item-377", 800, COUNT)
    excerpt = next(e for e in fitting.documents[0].excerpts if "item-377" in e.text)
    assert excerpt.text.startswith("| Item | Count |\n|---|---|\n")


def test_a_single_enormous_line_is_still_cut_to_fit() -> None:
    fitting = fit_context([pages(["word " * 20_000 + "needle"])], "needle", 500, COUNT)
    assert "needle" in fitting.documents[0].text() and fitting.tokens <= 500


def test_tokens_are_counted_only_for_the_passages_considered() -> None:
    calls = 0

    def counting(text: str) -> int:
        nonlocal calls
        calls += 1
        return COUNT(text)

    huge = pages([filler(n) for n in range(1, 5001)])
    fitting = fit_context([huge], "compost", 1000, counting)
    assert fitting.tokens <= 1000 and calls < 200


@pytest.mark.parametrize("question", ["", "   ", "zzzz qqqq"])
def test_a_question_matching_nothing_gives_the_beginning(question: str) -> None:
    fitting = fit_context([pages([filler(n) for n in range(1, 30)])], question, 400, COUNT)
    refs = [e.ref for e in fitting.documents[0].excerpts]
    assert refs and refs[0] == "page 1"
