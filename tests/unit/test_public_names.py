"""Every public module's ``__all__`` resolves; the import paths from before the move still work."""

from __future__ import annotations

import importlib

import pytest

import asgi_core

PUBLIC = [
    "asgi_core",
    "asgi_core.application",
    "asgi_core.asgi",
    "asgi_core.asyncapi",
    "asgi_core.context",
    "asgi_core.exceptions",
    "asgi_core.handlers",
    "asgi_core.health",
    "asgi_core.requests",
    "asgi_core.responses",
    "asgi_core.testing",
    "asgi_core.testing.errors",
    "asgi_core.types",
]


@pytest.mark.parametrize("name", PUBLIC)
def test_public_module_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    missing = [each for each in module.__all__ if not hasattr(module, each)]
    assert missing == []


def test_moved_names_keep_their_old_import_paths() -> None:
    from asgi_core import handlers, requests, responses, testing
    from asgi_core.asyncapi import mount_asyncapi
    from asgi_core.testing.http import Client

    assert handlers.JSONResponse is responses.JSONResponse is asgi_core.JSONResponse
    assert handlers.Request is requests.Request is asgi_core.Request
    assert handlers.Headers is requests.Headers
    assert handlers.QueryParams is requests.QueryParams
    assert testing.Client is Client
    assert asgi_core.mount_asyncapi is mount_asyncapi
    assert asgi_core.AsgiResponse is responses.AsgiResponse
    assert asgi_core.WebSocketClose is responses.WebSocketClose


def test_context_is_public() -> None:
    from asgi_core.context import Context

    assert asgi_core.Context is Context
