"""The shape catalog (bench/shapes.toml): parsing, validation and suite selection."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - older Pythons
    import tomli as tomllib

CATALOG_ENV = "LOWBIT_SHAPES"
CATALOG_RELPATH = Path("bench") / "shapes.toml"


class CatalogError(ValueError):
    """The catalog file is malformed or a requested suite does not exist."""


@dataclass(frozen=True)
class Shape:
    name: str
    M: int
    N: int
    K: int
    suites: tuple[str, ...]
    source: str
    count: int = 1

    @property
    def ops(self) -> int:
        """Operations of one GEMM, counted as 2*M*N*K (one multiply + one add per MAC)."""
        return 2 * self.M * self.N * self.K

    @property
    def dims(self) -> tuple[int, int, int]:
        return (self.M, self.N, self.K)


@dataclass
class Catalog:
    shapes: list[Shape]
    suites: dict[str, dict] = field(default_factory=dict)
    path: str | None = None

    def suite(self, name: str) -> list[Shape]:
        if name not in self.suites:
            raise CatalogError(f"unknown suite {name!r}; known: {', '.join(sorted(self.suites))}")
        return [s for s in self.shapes if name in s.suites]

    def budget_s(self, name: str, default: float) -> float:
        return float(self.suites.get(name, {}).get("budget_s", default))

    def groups(self, shape: Shape) -> list[str]:
        """Source suites of a shape (the suites other than the composite quick/default)."""
        return [s for s in shape.suites if s not in ("quick", "default")]


def find_catalog(start: str | os.PathLike | None = None) -> Path:
    """$LOWBIT_SHAPES, else bench/shapes.toml in the current directory or a parent of it."""
    env = os.environ.get(CATALOG_ENV)
    if env:
        return Path(env)
    here = Path(start or os.getcwd()).resolve()
    for d in (here, *here.parents):
        if (d / CATALOG_RELPATH).is_file():
            return d / CATALOG_RELPATH
    # A source checkout whose package is imported in place.
    pkg_root = Path(__file__).resolve().parents[2]
    if (pkg_root / CATALOG_RELPATH).is_file():
        return pkg_root / CATALOG_RELPATH
    raise CatalogError(
        f"cannot find {CATALOG_RELPATH}: run from the repository or set {CATALOG_ENV}")


def _positive_int(entry: dict, key: str, where: str) -> int:
    v = entry.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise CatalogError(f"{where}: {key} must be a positive integer, got {v!r}")
    return v


def parse_catalog(data: dict, path: str | None = None) -> Catalog:
    suites = data.get("suite", {})
    if not isinstance(suites, dict):
        raise CatalogError("[suite.*] tables expected")
    raw = data.get("shape")
    if not isinstance(raw, list) or not raw:
        raise CatalogError("no [[shape]] entries")
    shapes: list[Shape] = []
    seen: set[str] = set()
    for i, e in enumerate(raw):
        where = f"shape #{i + 1}"
        name = e.get("name")
        if not isinstance(name, str) or not name:
            raise CatalogError(f"{where}: missing name")
        where = f"shape {name!r}"
        if name in seen:
            raise CatalogError(f"{where}: duplicate name")
        seen.add(name)
        tags = e.get("suites")
        if not isinstance(tags, list) or not tags or not all(isinstance(t, str) for t in tags):
            raise CatalogError(f"{where}: suites must be a non-empty list of names")
        unknown = [t for t in tags if t not in suites]
        if unknown:
            raise CatalogError(f"{where}: suites {unknown} have no [suite.*] table")
        source = e.get("source")
        if not isinstance(source, str) or not source:
            raise CatalogError(f"{where}: missing source")
        extra = set(e) - {"name", "M", "N", "K", "suites", "source", "count"}
        if extra:
            raise CatalogError(f"{where}: unknown keys {sorted(extra)}")
        shapes.append(Shape(
            name=name,
            M=_positive_int(e, "M", where),
            N=_positive_int(e, "N", where),
            K=_positive_int(e, "K", where),
            suites=tuple(tags),
            source=source,
            count=_positive_int(e, "count", where) if "count" in e else 1,
        ))
    return Catalog(shapes=shapes, suites=suites, path=path)


def load_catalog(path: str | os.PathLike | None = None) -> Catalog:
    p = Path(path) if path else find_catalog()
    try:
        with open(p, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{p}: {exc}") from exc
    return parse_catalog(data, str(p))
