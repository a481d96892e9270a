"""Named Hypothesis strategies for ASGI paths, mount tables and lifespan message streams."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

__all__ = [
    "lifespan_message",
    "lifespan_messages",
    "mount_paths",
    "request_paths",
    "root_paths",
    "segments",
]

segments = st.sampled_from(["a", "b", "api", "apix", "v1", "x", "%2e%2e", "..", "é"])
"""Path segments drawn from a small alphabet, so that generated routes and paths collide often,
including near misses (``api`` / ``apix``), dot segments, encodings and non-ASCII."""

mount_paths = st.lists(segments, max_size=3).map(lambda parts: "/" + "/".join(parts)) | st.lists(
    segments, min_size=1, max_size=3
).map(lambda parts: "/" + "/".join(parts) + "/")
"""Mount paths as users write them: ``/``, ``/api``, ``/api/v1``, sometimes a trailing slash."""

request_paths = st.lists(segments | st.just(""), max_size=5).map(
    lambda parts: "/" + "/".join(parts)
)
"""Request paths: segments of the same alphabet, empty segments (``//``) included."""

root_paths = st.sampled_from(["", "/root", "/root/deep", "/api"])
"""``root_path`` values a server might send, one of them equal to a mount path."""

_valid_lifespan = st.sampled_from([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
_invalid_lifespan: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(
        [{"type": "http.request"}, {"type": "lifespan.startup.complete"}, {}, {"type": None}]
    ),
    st.text(max_size=5),
)
lifespan_message = st.one_of(_valid_lifespan, _valid_lifespan, _valid_lifespan, _invalid_lifespan)
"""One message a server (correct or not) might send on a lifespan scope: mostly a valid type,
sometimes a wrong type, a missing key or something that is not a dict at all."""

lifespan_messages = st.lists(lifespan_message, min_size=1, max_size=5)
"""A whole stream of such messages, valid ones in any order."""
