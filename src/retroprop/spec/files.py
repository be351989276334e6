"""Reading spec files: JSON, or YAML read safely, within the limits of ``retroprop.spec``.

YAML goes through PyYAML's pure-Python safe loader (no tag constructs a Python object) with merge keys
(``<<: *base``), duplicate keys refused, ``1e-3`` read as a number, and nesting bounded while the
document is composed; ``parse_spec`` then bounds the values once aliases are expanded. A field's error
gets its line in the YAML file.
"""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from retroprop.spec import ExperimentSpec, SpecError, parse_spec
from retroprop.spec.fields import MAX_DEPTH, MAX_FILE_BYTES, show

__all__ = ["load_spec", "read_json", "read_yaml"]


def load_spec(path: str | Path) -> ExperimentSpec:
    """Read and check a spec file (``.json``, ``.yaml`` or ``.yml``, at most MAX_FILE_BYTES).

    A file that is missing, unreadable, too large or not valid JSON/YAML raises ``SpecError`` naming
    the file (and the line, for a parse error); a bad field raises it naming the field (its ``line``
    set for YAML). Data file paths in the spec are relative to the spec's folder. YAML is read safely:
    no tags that build objects, merge keys, bounded aliases and depth.
    """
    path = Path(path)
    name = str(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise SpecError(f"{name}: unknown spec file type {suffix or '(no extension)'!r}; expected a .json, "
                        ".yaml or .yml file", source=name)
    text = _read_text(path, name)
    if suffix == ".json":
        data, locate = read_json(text, name), None
    else:
        data, locate = read_yaml(text, name)
    if data is None:
        raise SpecError(f"{name}: the file is empty; expected a spec (a mapping of fields)", source=name)
    try:
        return parse_spec(data, name, base_dir=path.parent)
    except SpecError as err:
        if locate is not None and err.path is not None:
            err.line = locate(err.parts)
        raise


def _read_text(path: Path, name: str) -> str:
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(21, "Is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise OSError(0, "not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise SpecError(f"{name}: the file has {info.st_size} bytes; a spec may have at most "
                            f"{MAX_FILE_BYTES}",
                            source=name)
        with path.open("rb") as handle:
            return handle.read(MAX_FILE_BYTES + 1).decode("utf-8")
    except UnicodeDecodeError as err:
        raise SpecError(f"{name}: cannot read the file: not UTF-8 text (byte {err.start})",
                        source=name) from None
    except OSError as err:
        raise SpecError(f"{name}: cannot read the file: {err.strerror or err}", source=name) from None


def _unreadable(err: Exception) -> str:
    text = str(err)
    if "digits" in text:
        return "a number too long to read (over 4300 digits)"
    if isinstance(err, (LookupError, AttributeError)):
        return "a value that does not fit its tag (such as !!bool or !!timestamp)"
    return text[:100]


def _key(key: Any) -> str:
    return repr(key[:40]) if isinstance(key, str) else show(key, 40)


def read_json(text: str, name: str) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise SpecError(f"{name}: duplicate key {_key(key)} in a JSON object", source=name)
            out[key] = value
        return out

    if not text.strip():
        return None
    try:
        return json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as err:
        raise SpecError(f"{name}: not valid JSON at line {err.lineno}, column {err.colno}: {err.msg}",
                        source=name, line=err.lineno) from None
    except RecursionError:
        raise SpecError(f"{name}: the spec is nested deeper than {MAX_DEPTH} levels", source=name) from None
    except SpecError:
        raise
    except ValueError as err:  # a number too long to convert
        raise SpecError(f"{name}: not valid JSON: {_unreadable(err)}", source=name) from None


# YAML 1.1 (PyYAML) reads 1e-3 as a string; a spec means the number, as JSON and YAML 1.2 do.
_YAML_FLOAT = r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$"""


_DEEP_FLOW = re.compile(r"[\[{](?:\s*[\[{]){" + str(MAX_DEPTH) + "}")  # more openers in a row than MAX_DEPTH


def read_yaml(text: str, name: str) -> tuple[Any, Callable[[Sequence[str | int]], int | None] | None]:
    try:
        import yaml
    except ImportError:
        raise SpecError(f"{name}: reading YAML needs PyYAML (pip install retroprop[cli]); or write the "
                        "spec as JSON", source=name) from None

    class Loader(yaml.SafeLoader):  # the pure-Python safe loader: no tags that construct objects
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise SpecError(f"{name}: the spec is nested deeper than {MAX_DEPTH} levels (line "
                                f"{self.peek_event().start_mark.line + 1})", source=name)
            try:
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: set[Any] = set()
            for key_node, _ in node.value:  # the mapping's own keys; merged ones (<<) may be overridden
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    line = key_node.start_mark.line + 1
                    raise SpecError(f"{name}: duplicate key {_key(key)} at line {line}", source=name,
                                    line=line)
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(_YAML_FLOAT, re.VERBOSE),
                                 list("-+0123456789."))
    if _DEEP_FLOW.search(text):
        raise SpecError(f"{name}: the spec is nested deeper than {MAX_DEPTH} levels", source=name)
    loader = None
    try:
        loader = Loader(text)  # refuses characters YAML does not allow (NUL) at once
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        where = "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"
        raise SpecError(f"{name}: not valid YAML{where}: {problem}", source=name,
                        line=None if mark is None else mark.line + 1) from None
    except SpecError:
        raise
    except Exception as err:  # PyYAML's constructors fail in many ways on a value that does not fit its
        # explicit tag (!!bool x: KeyError, !!timestamp x: AttributeError); a number too long; a list as a key
        raise SpecError(f"{name}: not valid YAML: {_unreadable(err)}", source=name) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, (lambda parts: _yaml_line(node, parts))


def _yaml_line(node: Any, parts: Sequence[str | int]) -> int | None:
    """The line of a field (its path as keys and list positions) in a YAML node tree: of the field's
    key if it is there, else of the deepest mapping or list on the way to it."""
    import yaml

    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in parts:
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        elif isinstance(node, yaml.MappingNode) and isinstance(part, str):
            found = [(k, v) for k, v in node.value if getattr(k, "value", None) == part]
            if not found:
                break
            line = found[-1][0].start_mark.line + 1
            node = found[-1][1]
        else:
            break
    return line
