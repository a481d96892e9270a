"""``_importer``: import strings and optional extras, and their messages."""

from __future__ import annotations

import sys

import pytest

from asgi_core._importer import import_extra, import_from_string
from asgi_core.exceptions import AppImportError, ConfigError, MissingExtraError
from tests.fixtures.serving import e2e_app

FIXTURES = "tests.fixtures.serving"


def test_import_from_string_returns_the_named_attribute() -> None:
    assert import_from_string(f"{FIXTURES}.e2e_app:app") is e2e_app.app


def test_import_from_string_follows_a_dotted_attribute_path() -> None:
    assert import_from_string(f"{FIXTURES}.e2e_app:app.routes") is e2e_app.app.routes


@pytest.mark.parametrize("spec", ["e2e_app", ":app", "e2e_app:", "a:b:c"])
def test_import_from_string_rejects_a_malformed_string_naming_the_form(spec: str) -> None:
    with pytest.raises(ConfigError, match="must have the form 'module:attribute'") as info:
        import_from_string(spec)
    assert repr(spec) in str(info.value)


def test_import_from_string_names_a_module_that_does_not_exist() -> None:
    with pytest.raises(AppImportError, match=r"could not import module 'no_such_mod' \(from"):
        import_from_string("no_such_mod:app")


def test_import_from_string_names_a_missing_package_above_the_module() -> None:
    with pytest.raises(AppImportError, match=r"could not import module 'no_such_pkg\.sub'"):
        import_from_string("no_such_pkg.sub:app")


def test_import_from_string_names_a_missing_attribute_and_where_it_looked() -> None:
    with pytest.raises(AppImportError, match=r"attribute 'nope' not found in '.*e2e_app\.app'"):
        import_from_string(f"{FIXTURES}.e2e_app:app.nope")


def test_an_import_error_inside_the_users_module_passes_through_unchanged() -> None:
    with pytest.raises(ModuleNotFoundError) as info:
        import_from_string(f"{FIXTURES}.broken_import:app")
    assert not isinstance(info.value, AppImportError)
    assert info.value.name == "asgi_core_no_such_dependency"


def test_another_error_at_import_passes_through_unchanged() -> None:
    with pytest.raises(RuntimeError, match="fails at import on purpose"):
        import_from_string(f"{FIXTURES}.raises_at_import:app")


def test_import_extra_turns_a_missing_package_into_missing_extra_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "asgi_core_test_server", None)
    with pytest.raises(MissingExtraError) as info:
        import_extra(
            "asgi_core_test_server",
            feature="running with testserver",
            packages=("asgi_core_test_server",),
            extra="testserver",
        )
    assert str(info.value) == (
        "running with testserver needs the 'asgi_core_test_server' package, which is not "
        "installed; install it with `pip install 'asgi-core[testserver]'`"
    )
    assert isinstance(info.value, ImportError)
    assert info.value.name == "asgi_core_test_server"


def test_import_extra_lets_a_broken_installed_package_keep_its_own_error() -> None:
    # the module exists but fails importing something that is not one of the extra's packages
    with pytest.raises(ModuleNotFoundError) as info:
        import_extra(
            f"{FIXTURES}.broken_import",
            feature="running with x",
            packages=("uvicorn",),
            extra="uvicorn",
        )
    assert not isinstance(info.value, MissingExtraError)
    assert info.value.name == "asgi_core_no_such_dependency"
