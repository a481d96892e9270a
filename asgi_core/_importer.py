"""Import strings (``module:attribute``) and optional extras, with messages that say what to do.

Rules:

* ``import_from_string("pkg.module:attr.sub")`` imports ``pkg.module`` and follows the dotted
  attribute path. A malformed string is a ``ConfigError``; a module that does not exist, or an
  attribute it lacks, is an ``AppImportError`` (an ``ImportError``) naming what was looked for.
  An ``ImportError`` raised *inside* the user's module (a missing dependency of theirs, a broken
  import) propagates unchanged, with its own traceback.
* ``import_extra(...)`` imports one of asgi_core's optional modules. Only a
  ``ModuleNotFoundError`` whose ``name`` is one of the packages that extra provides becomes a
  ``MissingExtraError`` with the ``pip install`` command; anything else, such as an installed
  package that fails to import, propagates unchanged so its traceback shows the real problem.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

# AppImportError is defined in exceptions.py; imported here too, so the old path keeps working
from asgi_core.exceptions import AppImportError, ConfigError, MissingExtraError

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["AppImportError", "import_extra", "import_from_string"]


def _is_missing(error: ModuleNotFoundError, module: str) -> bool:
    """True if ``error`` says ``module`` itself (or a package above it) does not exist."""
    name = error.name or ""
    return module == name or module.startswith(name + ".")


def import_from_string(spec: str) -> object:
    """The object named by ``"module:attribute"`` (the attribute may be dotted)."""
    module_name, sep, attrs = spec.partition(":")
    if not sep or not module_name or not attrs or ":" in attrs:
        raise ConfigError(
            f"import string {spec!r} must have the form 'module:attribute', "
            "e.g. 'myproject.main:app'"
        )
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if not _is_missing(exc, module_name):
            raise
        raise AppImportError(
            f"could not import module {module_name!r} (from {spec!r}): no such module; check "
            "the spelling, run from the project directory, or pass --app-dir DIR",
            name=module_name,
        ) from None
    found: object = module
    for index, attr in enumerate(attrs.split(".")):
        try:
            found = getattr(found, attr)
        except AttributeError:
            where = ".".join([module_name, *attrs.split(".")[:index]])
            raise AppImportError(
                f"attribute {attr!r} not found in {where!r} (from {spec!r}); check the name "
                "after the colon",
                name=module_name,
            ) from None
    return found


def import_extra(module: str, *, feature: str, packages: tuple[str, ...], extra: str) -> ModuleType:
    """Import ``module``, turning a missing one of ``packages`` into ``MissingExtraError``.

    ``feature`` completes the sentence "... needs the 'x' package"; ``extra`` is the
    ``asgi-core[...]`` extra that installs ``packages``.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = next((p for p in packages if exc.name == p), None)
        if missing is None:
            raise
        raise MissingExtraError(
            f"{feature} needs the {missing!r} package, which is not installed; install it "
            f"with `pip install 'asgi-core[{extra}]'`",
            name=missing,
        ) from exc
