"""Which files an all-tools request names, how the prompt shows them, and what relaygate knows of base models:
the pure parts of file analysis, checked directly."""

from __future__ import annotations

import base64

import pytest

from relaygate.core.errors import BadRequest, FileTooLarge
from relaygate.core.records import AllToolsRecord
from relaygate.fetch.context import fit_context
from relaygate.fetch.document import Document, FileKind, Image, Part
from relaygate.fetch.policy import url_label
from relaygate.relay.all_tools import AllToolsBook, known_base
from relaygate.relay.steps.attachments import AttachedMessage, find_attachments, inline_urls, leading_urls
from relaygate.relay.steps.file_prompt import FileView, PartImage, message_content


@pytest.mark.parametrize(("text", "urls", "question"), [
    ("https://www.bt.cn/data/api-doc.pdf 添加域名的api是什么?", ["https://www.bt.cn/data/api-doc.pdf"],
     "添加域名的api是什么?"),
    ("https://a.test/1.pdf https://a.test/2.docx  compare  them ", ["https://a.test/1.pdf", "https://a.test/2.docx"],
     "compare  them "),
    ("https://a.test/b.pdf，请总结", ["https://a.test/b.pdf"], "请总结"),
    ("  https://a.test/b.pdf, what is it?", ["https://a.test/b.pdf"], "what is it?"),
    ("file:///etc/passwd read it", ["file:///etc/passwd"], "read it"),
    ("https://a.test/b.pdf", ["https://a.test/b.pdf"], ""),
    ("what is https://a.test/b.pdf?", [], "what is https://a.test/b.pdf?"),
    ("http://[::ffff:127.0.0.1] http://[::1]. read them", ["http://[::ffff:127.0.0.1]", "http://[::1]"], "read them"),
])
def test_urls_leading_a_message_are_files_and_the_rest_is_the_question_verbatim(
        text: str, urls: list[str], question: str) -> None:
    assert leading_urls(text) == (urls, question)


def test_urls_inside_the_text_are_found_but_not_inside_code() -> None:
    text = ("Compare https://en.wikipedia.org/wiki/Foo_(bar). with (https://x.test/a), not `https://x.test/code` nor"
            "\n```\ncurl https://x.test/block\n```\nand http://y.test/z。")
    assert inline_urls(text) == ["https://en.wikipedia.org/wiki/Foo_(bar)", "https://x.test/a", "http://y.test/z"]
    # A bracket closes an IPv6 host when balanced, and ends the URL when it is the text's (a Markdown link's).
    assert inline_urls("see [the doc](https://x.test/a.pdf). and [http://[::1]]") == ["https://x.test/a.pdf",
                                                                                    "http://[::1]"]


def _file_part(data: str, name: str = "a.pdf") -> dict[str, object]:
    return {"type": "file", "file": {"filename": name, "file_data": data}}


def test_every_user_message_is_searched_and_a_file_named_twice_is_one_file() -> None:
    pdf = base64.b64encode(b"%PDF-1.4 tiny").decode()
    messages: list[object] = [
        {"role": "system", "content": "https://system.test/ignored.pdf be brief"},
        {"role": "user", "content": "https://a.test/doc.pdf summarise"},
        {"role": "assistant", "content": "See https://assistant.test/not-a-file.pdf"},
        {"role": "user", "content": [
            {"type": "text", "text": "https://a.test/doc.pdf and this one"},
            {"type": "image_url", "image_url": {"url": "https://a.test/cat.png"}},
            _file_part("data:application/pdf;base64," + pdf), _file_part(pdf, "same.pdf"),
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]},
        {"role": "user", "content": "a follow-up without files"},
    ]
    found = find_attachments(messages, max_upload_bytes=1024)
    assert list(found.files) == ["https://a.test/doc.pdf", "image:https://a.test/cat.png",
                                 "upload:" + found.files[list(found.files)[2]].upload.sha256]
    assert [(m.index, m.question, len(m.keys)) for m in found.messages] == [(1, "summarise", 1),
                                                                             (3, "and this one", 3)]
    assert found.messages[1].kept_parts == [messages[3]["content"][4]]


@pytest.mark.parametrize(("part", "error", "text"), [
    ({"type": "file", "file": {"file_id": "file-abc"}}, BadRequest, "file_id names a file stored at OpenAI"),
    (_file_part("not base64 at all!"), BadRequest, "not valid base64"),
    (_file_part(""), BadRequest, "needs file.file_data"),
    (_file_part(base64.b64encode(b"x" * 4096).decode()), FileTooLarge, "over the 1,024-byte limit"),
])
def test_a_file_part_that_carries_no_readable_file_is_refused(part: dict[str, object], error: type[Exception],
                                                              text: str) -> None:
    with pytest.raises(error, match=text):
        find_attachments([{"role": "user", "content": [part]}], max_upload_bytes=1024)


def test_a_source_is_named_without_credentials_or_query() -> None:
    assert url_label("https://u:p@files.test:8443/a/b.pdf?sig=secret#x") == "https://files.test:8443/a/b.pdf"
    assert url_label("file:///etc/passwd") == "file:///etc/passwd"
    assert url_label("http://[::1") == "an invalid URL"
    assert url_label("http://[::ffff:127.0.0.1]:81/a.pdf?x=1") == "http://[::ffff:127.0.0.1]:81/a.pdf"
    assert url_label("http://user:pass@[::1]/") == "http://[::1]/"


def _document(parts: int) -> Document:
    return Document(name="manual.pdf", kind=FileKind.PDF, size=123_456, sha256="0" * 64, title="Manual",
                    parts=tuple(Part("page", str(n), f"page {n} text about {'domains' if n == 3 else 'rivers'}")
                                for n in range(1, parts + 1)))


def test_the_prompt_names_each_file_and_ends_with_the_question_verbatim() -> None:
    document = _document(5)
    fitting = fit_context([document], "domains", budget=14, count_tokens=lambda s: len(s.split()))
    image = Image(url="https://a.test/cat.png", mime="image/png", data=b"\x89PNG\r\n\x1a\n")
    part = {"type": "image_url", "image_url": {"url": "https://a.test/dog.png", "detail": "low"}}
    views = [FileView(1, "https://a.test/manual.pdf", document, fitting.documents[0]),
             FileView(2, "https://a.test/cat.png", image), FileView(3, "an image_url part", PartImage(part))]
    shown: set[int] = set()
    content = message_content(AttachedMessage(0, "  Which page is about domains?\n"), views, shown)
    assert isinstance(content, list) and [p["type"] for p in content] == ["text", "image_url", "image_url"]
    text = str(content[0]["text"])
    assert text.startswith("The user attached 3 files to this message.")
    assert "=== File 1: manual.pdf (PDF, 120.6 KB) from https://a.test/manual.pdf\nTitle: Manual" in text
    assert "Included: page 3" in text and "Left out:" in text and "[page 3]\npage 3 text about domains" in text
    assert "=== File 2: an image (PNG, 8 bytes) from https://a.test/cat.png" in text
    assert text.endswith("Question:\n  Which page is about domains?\n") and shown == {1, 2, 3}
    assert content[1] == {"type": "image_url", "image_url": {"url": image.data_url()}} and content[2] == part
    again = message_content(AttachedMessage(2, ""), views[:1], shown)
    assert again == ("The user attached 1 file to this message.\n\n=== File 1 (https://a.test/manual.pdf) is given in "
                     "an earlier message.\n\nAnswer the question below using the attached files. When you rely on a "
                     "passage, cite its reference in brackets as given, e.g. [page 3].\n\nQuestion:\n(The user sent "
                     "the files without a question.)")


def test_a_document_without_text_says_so_instead_of_text() -> None:
    scanned = Document(name="scan.pdf", kind=FileKind.PDF, size=10, sha256="1" * 64, parts=(),
                       notes=("This PDF has no text layer (it is probably scanned images).",))
    text = message_content(AttachedMessage(0, "what is it?"), [FileView(1, "a file part (scan.pdf)", scanned)], set())
    assert isinstance(text, str)
    assert "scan.pdf (PDF, 10 bytes) from a file part (scan.pdf)\nThis PDF has no text layer" in text
    assert "whole document" not in text


def test_built_in_and_marked_all_tools_models_with_what_their_base_models_take() -> None:
    book = AllToolsBook({"gpt-4-all": AllToolsRecord("gpt-4-all", "gpt-4-turbo"),
                         "gpt-4o-all": AllToolsRecord("gpt-4o-all", "gpt-4o", enabled=False),
                         "mine": AllToolsRecord("mine", "some-local-model", vision=True, context_tokens=32_000)})
    four = book.get("gpt-4-all")
    assert four is not None and (four.base_model, four.vision, four.context_tokens, four.builtin) == (
        "gpt-4-turbo", True, 128_000, False)
    assert book.get("gpt-4o-all") is None and book.get("gpt-4o") is None
    mine = book.get("mine")
    assert mine is not None and (mine.vision, mine.context_tokens) == (True, 32_000)
    assert AllToolsBook({}).get("gpt-4-all") is not None and AllToolsBook({}).get("gpt-4-all").builtin
    assert known_base("gpt-4") == (False, 8_192) and known_base("gpt-4o-mini") == (True, 128_000)
    assert known_base("claude-3-5-haiku-20241022") == (True, 200_000) and known_base("unknown") == (False, 8_192)
