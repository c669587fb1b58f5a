"""The extraction worker: a process that imports the parsers once and forks one capped child per file.

Run as `python -m relaygate.fetch.worker '<limits json>'` by relaygate.fetch.extractor, speaking
relaygate.fetch.protocol on stdin/stdout. Each file is read in a forked child with RLIMIT_AS, RLIMIT_CPU and
an alarm that ends it at the wall-clock cap even inside C code; nothing imports this module.
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import math
import os
import resource
import signal
import sys
import time
import warnings

from relaygate.core.errors import FetchRefused
from relaygate.fetch.document import ExtractionStats
from relaygate.fetch.limits import ExtractLimits
from relaygate.fetch.protocol import ANSWER, JOB, LIMITS, MAX_ANSWER_BYTES, Job, frame, read_frame, refusal

_PR_SET_PDEATHSIG = 1
NICENESS = 10
"""How much lower the worker (and every child it forks) runs than relaygate itself."""


def _extract(job: Job, data: bytes, limits: ExtractLimits) -> bytes:
    from relaygate.fetch.formats import extract_document

    started = time.perf_counter()
    try:
        document = extract_document(job["name"], data, job["sha256"], job["charset"], limits)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        stats = ExtractionStats(seconds=time.perf_counter() - started, peak_memory_bytes=peak)
        return ANSWER.dump_json({"document": dataclasses.replace(document, stats=stats)})
    except FetchRefused as exc:
        return refusal(type(exc).__name__, exc.code, exc.message)
    except MemoryError:
        return refusal("FileTooLarge", "extraction_memory_exceeded",
                       f"reading the file needed more than the {limits.memory_bytes:,}-byte memory limit")
    except Exception as exc:  # a parser's error on a damaged or hostile file; its text may quote the file
        return refusal("UnreadableFile", "unreadable_file", "the file is damaged or malformed and could not be read",
                       type(exc).__name__)


def _die_with_parent() -> None:
    """Linux: end this child when the worker dies (killed by relaygate), rather than at its own time cap."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def _child(job: Job, data: bytes, limits: ExtractLimits, answer_fd: int, protocol_fds: tuple[int, int]) -> None:
    """In the forked child: cap, extract, write the answer, exit without running any cleanup of the worker's."""
    try:
        _die_with_parent()
        for fd in protocol_fds:  # the child answers only through its own pipe
            os.close(fd)
        signal.setitimer(signal.ITIMER_REAL, limits.timeout)  # SIGALRM's default action ends the process
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        cpu = math.ceil(limits.timeout) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        answer = _extract(job, data, limits)
        with os.fdopen(answer_fd, "wb") as out:
            out.write(answer)
    finally:
        os._exit(0)


def _outcome(status: int, answer: bytes, limits: ExtractLimits) -> bytes:
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 and answer:
        return answer
    cause = signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}"
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) in (signal.SIGALRM, signal.SIGXCPU):
        return refusal("FileTooLarge", "extraction_timeout", f"reading the file took longer than {limits.timeout:g} s",
                       cause)
    return refusal("UnreadableFile", "unreadable_file", "the file could not be read: the extraction process crashed",
                   cause)


def _serve_one(job: Job, data: bytes, limits: ExtractLimits, protocol_fds: tuple[int, int]) -> bytes:
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(read_fd)
        os.close(write_fd)
        return refusal("UnreadableFile", "unreadable_file", "the extraction process could not start", str(exc))
    if pid == 0:
        os.close(read_fd)
        _child(job, data, limits, write_fd, protocol_fds)
    os.close(write_fd)
    chunks: list[bytes] = []
    size = 0
    with os.fdopen(read_fd, "rb") as answers:
        while chunk := answers.read(1 << 20):
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return refusal("FileTooLarge", "extraction_memory_exceeded", "the file's text is too large")
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    return _outcome(status, b"".join(chunks), limits)


def main(argv: list[str]) -> int:
    limits = LIMITS.validate_json(argv[1])
    os.nice(NICENESS)  # parsing a file waits its turn behind relaying; the CPU it then gets is still all it needs
    logging.getLogger().setLevel(logging.ERROR)  # parsers warn about every damaged file; the answer says it
    warnings.simplefilter("ignore")
    import relaygate.fetch.formats  # noqa: F401  (imported once here, inherited by every forked child)

    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, never into the protocol
    protocol_in = sys.stdin.buffer
    protocol_fds = (protocol_in.fileno(), protocol_out.fileno())
    protocol_out.write(frame(b'{"ready": true}'))
    protocol_out.flush()
    while (header := read_frame(protocol_in, 64 * 1024)) is not None:
        job = JOB.validate_json(header)
        data = protocol_in.read(job["size"])
        if len(data) != job["size"]:
            return 1
        protocol_out.write(frame(_serve_one(job, data, limits, protocol_fds)))
        protocol_out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
