"""The guarded fetcher and document extraction: download a URL safely, read its text, fit it to a budget.

    reader = DocumentReader(GuardedFetcher(FetchPolicy.from_settings(s)), Extractor(ExtractLimits.from_settings(s)),
                            DocumentCache(s.fetch_cache_ttl, s.fetch_cache_max_bytes))
    document = await reader.read_url(url)                  # or read_upload(Upload(name, data)), fetch_image(url)
    fitting = fit_context([document], question, budget, count_tokens)
"""

from relaygate.fetch.cache import DocumentCache
from relaygate.fetch.context import Excerpt, FittedDocument, Fitting, TokenCounter, fit_context
from relaygate.fetch.document import Document, ExtractionStats, FileKind, Image, Part, Source, Upload
from relaygate.fetch.extractor import Extractor
from relaygate.fetch.fetcher import Fetched, GuardedFetcher
from relaygate.fetch.limits import ExtractLimits, ExtractSettings
from relaygate.fetch.policy import FetchPolicy, FetchSettings
from relaygate.fetch.reader import DocumentReader
from relaygate.fetch.resolver import Resolver, StaticResolver, SystemResolver
from relaygate.fetch.sniff import Sniffed, image_mime, sniff

__all__ = [
    "Document", "DocumentCache", "DocumentReader", "Excerpt", "ExtractLimits", "ExtractSettings", "ExtractionStats",
    "Extractor", "FetchPolicy", "FetchSettings", "Fetched", "FileKind", "FittedDocument", "Fitting",
    "GuardedFetcher", "Image", "Part", "Resolver", "Sniffed", "Source", "StaticResolver", "SystemResolver",
    "TokenCounter", "Upload", "fit_context", "image_mime", "sniff",
]
