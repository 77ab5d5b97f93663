"""Run inside every sandboxed kernel at start (``--IPKernelApp.exec_files``): no stream message past the host's cap.

ipykernel gathers everything written to stdout/stderr for 0.2 s into one message, so ``print(big_table)`` or a
tight print loop becomes one message of hundreds of MB: the host's message relay must refuse it whole (the cell
then shows nothing of it), and the kernel holds several copies of it while sending. Here the kernel's I/O thread
sends at most ``ARA_STREAM_LIMIT`` characters (the host's per-cell output cap, set in the sandbox's environment)
of what it gathered, followed by an ``ara_dropped`` note saying how much it left out; the host keeps the first part
as usual. It is a courtesy to well-behaved code only: kernel code can undo it, and the host-side caps
(``tools.kernel.relay``, the output collector) hold without it. Defines nothing in the user's namespace; does
nothing on an ipykernel without ``OutStream._flush_buffers``.
"""


def _ara_bounded_stream_messages() -> None:
    import os
    from collections.abc import Iterator
    from typing import Any

    from ipykernel.iostream import OutStream

    original = getattr(OutStream, "_flush_buffers", None)
    limit = int(os.environ.get("ARA_STREAM_LIMIT", "0"))
    if original is None or limit <= 0:
        return

    noted: set[tuple[str, str]] = set()

    def flush_buffers(self: OutStream) -> Iterator[tuple[dict[str, Any], str]]:
        for parent, data in original(self):
            if len(data) <= limit:
                yield parent, data
                continue
            yield parent, data[:limit]
            key = (str(parent.get("msg_id")), self.name)
            if key in noted:
                continue  # one note per cell and stream is enough
            if len(noted) > 1000:
                noted.clear()
            noted.add(key)
            left = len(data) - limit
            text = (
                f"the kernel left out {left} more characters of {self.name} from one write (it sends at most "
                f"{limit} at a time; later writes of this cell may be cut the same way)"
            )
            self.session.send(self.pub_thread, "ara_dropped", {"text": text}, parent=parent, ident=self.topic)

    OutStream._flush_buffers = flush_buffers  # type: ignore[method-assign]


_ara_bounded_stream_messages()
del _ara_bounded_stream_messages
