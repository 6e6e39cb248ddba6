"""Identity of the core code a script runs: the `molrg` modules it imports, directly or through
other `molrg` modules, found statically (`ast`, nothing is imported), and one hash of their source.

The workflow gives every rule's job this identity as a parameter (README, "Reruns after a change
of the core code"), so that an edit of a module reruns exactly the jobs whose scripts import it and
everything downstream, and the between-workflow cache key changes with it. Standard library only:
the Snakefile imports this module while it builds the DAG.

Every `import` statement counts, also one inside a function (a lazy import is still code the job
may run); `from molrg import x` counts module `x` when `molrg/x.py` exists. A package's
`__init__.py` counts whenever one of its modules does, as Python runs it first.
"""
from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path


class CodeIdentity:
    """The modules of one package (a folder with `__init__.py`, e.g. `molrg/`) and their hashes."""

    def __init__(self, package_dir):
        self.root = Path(package_dir).resolve()
        self.name = self.root.name
        if not (self.root / "__init__.py").is_file():
            raise ValueError(f"{self.root} is not a package folder (no __init__.py)")

    def _file(self, module: str) -> Path | None:
        """The source file of a dotted module name inside the package, or None."""
        parts = module.split(".")
        if parts[0] != self.name:
            return None
        base = self.root.joinpath(*parts[1:])
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
        return None

    def _module_name(self, path: Path) -> str:
        rel = path.resolve().relative_to(self.root.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts)

    def imports_of(self, path, module: str | None = None) -> set[str]:
        """The package's modules that the file `path` imports directly (dotted names). `module` is
        the file's own dotted name, needed to resolve relative imports (None for a script)."""
        tree = ast.parse(Path(path).read_text(), filename=str(path))
        is_pkg = Path(path).name == "__init__.py"
        found = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    if module is None:
                        continue  # a script's relative import never reaches the package
                    base = module.split(".")
                    drop = node.level - 1 if is_pkg else node.level
                    base = base[: len(base) - drop] if drop else base
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                # `from pkg import sub` imports module pkg.sub when it exists, else a name of pkg
                names = [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                parts = name.split(".")
                # importing a.b.c runs a, a.b and a.b.c
                for i in range(1, len(parts) + 1):
                    sub = ".".join(parts[:i])
                    if self._file(sub) is not None:
                        found.add(sub)
        return found

    @lru_cache(maxsize=None)
    def _module_imports(self, module: str) -> frozenset:
        return frozenset(self.imports_of(self._file(module), module))

    def closure(self, path) -> list[str]:
        """Every package module that running the file `path` imports, transitively, sorted."""
        seen: set[str] = set()
        todo = list(self.imports_of(path, self._own_name(path)))
        while todo:
            module = todo.pop()
            if module in seen:
                continue
            seen.add(module)
            todo.extend(self._module_imports(module))
        return sorted(seen)

    def files(self, path) -> list[Path]:
        """The source files of `closure(path)`, in its order."""
        return [self._file(module) for module in self.closure(path)]

    def _own_name(self, path) -> str | None:
        try:
            return self._module_name(Path(path))
        except ValueError:
            return None  # outside the package: a script

    @lru_cache(maxsize=None)
    def _source_hash(self, module: str) -> str:
        return hashlib.sha256(self._file(module).read_bytes()).hexdigest()

    def identity(self, path) -> str:
        """One hash of the name and source of every module in `closure(path)` (16 hex digits;
        a script that imports none of the package gets the hash of nothing)."""
        h = hashlib.sha256()
        for module in self.closure(path):
            h.update(f"{module}\0{self._source_hash(module)}\n".encode())
        return h.hexdigest()[:16]
