"""Work on many named items across forked processes, begun while the items are still being
found: `taxon validate` checks a tree's first files while it walks the rest.

The names go in records into one queue, a pipe that this process writes and every process
reads (this one too, when the queue is full and once it is closed) until it is closed and
empty: so none waits on another's slower share, and this process is never idle. A record is
PIPE_BUF bytes, the size a pipe writes whole, and a read of it is never shared with another
reader (as make's jobserver relies on for its one-byte tokens). Each child sends what it did
with each record back through a pipe of its own, pickled, and this process reads them between
its own records; a child leaves by os._exit. A child that dies costs time, not results: what
it took is missing from `finish`'s results, for the caller to do itself.
Where os.fork is missing, nothing forks and the caller does it all.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

Result = TypeVar("Result")
Extra = TypeVar("Extra")

_RECORD = select.PIPE_BUF  # POSIX: a write of at most this many bytes to a pipe is never split
_CHUNK = 16  # names a record at most: a few milliseconds of work, so the last records end together
_PIPE_BYTES = 1 << 20  # a pipe's size where Linux lets it be set: the walk rarely waits on one
_LENGTH = struct.Struct("<I")  # before each message of results


class ForkedMap(Generic[Result]):
    """`work(name)` for each name fed, in this process and `workers - 1` forked children, once
    `start_from` names have been fed (fewer: `finish` returns nothing done, and the caller does
    them all in this process)."""

    def __init__(self, work: Callable[[str], Result], workers: int, start_from: int):
        self.work = work
        self.workers = workers if hasattr(os, "fork") else 1
        self.start_from = start_from
        self.pending: list[str] = []
        self.done: dict[str, Result] = {}
        self.children: list[tuple[int, int]] = []  # pid, the read end of its results
        self.received: dict[int, bytes] = {}  # a child's results read and not yet unpickled, by read end
        self.results_out: int | None = None  # in a child: where it sends its results
        self.queue: tuple[int, int] | None = None  # read end, write end

    def feed(self, names: Iterable[str]) -> None:
        self.pending += names
        if self.queue is None and self.workers > 1 and len(self.pending) >= self.start_from:
            self._start()
        if self.queue is not None:
            self._send(whole_records_only=True)

    def finish(self, meanwhile: Callable[[], Extra]) -> tuple[dict[str, Result], Extra]:
        """What was done, by name, and what `meanwhile` returned (this process's own work that
        needs none of the results, done while the children work)."""
        if self.queue is None:
            return {}, meanwhile()
        self._send(whole_records_only=False)
        os.close(self.queue[1])  # the readers stop where the queue ends
        extra = meanwhile()
        while self._take_one():
            pass
        for pid, results in self.children:
            os.set_blocking(results, True)
            while self._receive(results):
                pass
            os.close(results)
            os.waitpid(pid, 0)
        self.children = []
        self.close()
        return self.done, extra

    def close(self) -> None:
        """The queue closed, and children left behind by an error in this process stopped."""
        for pid, results in self.children:
            os.close(results)
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
        self.children = []
        for fd in self.queue or ():
            try:
                os.close(fd)
            except OSError:
                pass  # its write end, closed at finish
        self.queue = None

    def _start(self) -> None:
        try:
            self.queue = os.pipe()
        except OSError:  # out of file descriptors: the caller does it all, as for a small tree
            self.workers = 1
            return
        os.set_blocking(self.queue[0], False)
        _enlarge(self.queue[1])  # when the queue is full all the same, this process takes from it
        for _ in range(self.workers - 1):
            try:  # at a limit of descriptors or processes: fewer children, or none
                results_in, results_out = os.pipe()
            except OSError:
                break
            _enlarge(results_out)
            try:
                pid = os.fork()
            except OSError:
                os.close(results_in)
                os.close(results_out)
                break
            if pid == 0:
                self._child(results_in, results_out)
            os.close(results_out)
            os.set_blocking(results_in, False)
            self.children.append((pid, results_in))
            self.received[results_in] = b""
        os.set_blocking(self.queue[1], False)

    def _child(self, results_in: int, results_out: int) -> None:
        status = 1
        try:
            assert self.queue is not None
            os.close(self.queue[1])
            for _, earlier in [*self.children, (0, results_in)]:  # result pipes this child doesn't write
                os.close(earlier)
            self.results_out = results_out
            while self._take_one():
                pass
            os.close(results_out)
            status = 0
        finally:
            os._exit(status)

    def _send(self, whole_records_only: bool) -> None:
        while len(self.pending) >= _CHUNK or (self.pending and not whole_records_only):
            names: list[bytes] = []
            for name in self.pending[:_CHUNK]:
                encoded = name.encode("utf-8", "surrogateescape")
                if b"\0" in encoded or sum(map(len, names)) + len(names) + len(encoded) >= _RECORD:
                    break
                names.append(encoded)
            if names:
                self._put(b"\0".join(names).ljust(_RECORD, b"\0"))
                self._drain()
            del self.pending[: max(len(names), 1)]  # a name too long for a record is left to the caller

    def _put(self, record: bytes) -> None:
        assert self.queue is not None
        while True:
            try:
                os.write(self.queue[1], record)
                return
            except BlockingIOError:
                self._take_one(wait=False)  # the queue is full: this process does some of it

    def _take_one(self, wait: bool = True) -> bool:
        """Do one record of the queue; False where it has ended (or, not waiting, is empty).
        Every reader's end is non-blocking (it is one file shared by all): a reader that finds
        the queue empty waits for it to be readable, then tries again, as the others do."""
        assert self.queue is not None
        while True:
            try:
                record = os.read(self.queue[0], _RECORD)
                break
            except BlockingIOError:
                if not wait:
                    return False
                select.select([self.queue[0]], [], [])
        done = {}
        for name in record.rstrip(b"\0").split(b"\0") if record.strip(b"\0") else ():
            text = name.decode("utf-8", "surrogateescape")
            done[text] = self.work(text)
        self.work_done(done)
        return bool(record)

    def work_done(self, done: dict[str, Result]) -> None:
        """A child sends what it did; this process keeps it, and takes in what children sent."""
        if self.results_out is not None:
            message = _message(done)
            while message:
                message = message[os.write(self.results_out, message) :]
            return
        self.done.update(done)
        self._drain()

    def _drain(self) -> None:
        """Take in what the children have sent so far, without waiting for more."""
        for _, results in self.children:
            self._receive(results)

    def _receive(self, results: int) -> bool:
        """Read what a child has sent so far (all of it, where the pipe blocks) and take in its
        whole messages; False once it has closed its end."""
        try:
            data = os.read(results, _PIPE_BYTES)
        except BlockingIOError:
            return True
        buffer = self.received[results] + data
        while len(buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(buffer)
            if len(buffer) < _LENGTH.size + length:
                break
            self.done.update(pickle.loads(buffer[_LENGTH.size : _LENGTH.size + length]))
            buffer = buffer[_LENGTH.size + length :]
        self.received[results] = buffer  # a message cut short by a child that died is never taken
        return bool(data)


def _message(done: dict[str, Result]) -> bytes:
    payload = pickle.dumps(done, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)) + payload


def _enlarge(pipe_end: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(pipe_end, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass  # not Linux, or a lower limit than this
