"""Compare the result tables of two finished runs byte for byte (a restructuring must not change
a number): every .csv, .md, .npz and .json under results/ except logs, benchmarks, provenance
sidecars and the run-time tables (the selection of tests/test_determinism.py).

    python tools/compare_runs.py RUN_DIR_A RUN_DIR_B     # exit 1 and a list where they differ"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_determinism import BYTE_IDENTICAL, result_files  # noqa: E402


def tables(workdir: str) -> dict[str, str]:
    return {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in result_files(Path(workdir)).items()
            if p.suffix in BYTE_IDENTICAL}


def main(a: str, b: str) -> int:
    ta, tb = tables(a), tables(b)
    only = sorted(set(ta) ^ set(tb))
    differ = sorted(k for k in set(ta) & set(tb) if ta[k] != tb[k])
    for k in only:
        print(f"only in {'A' if k in ta else 'B'}: {k}")
    for k in differ:
        print(f"differs: {k}")
    print(f"{len(set(ta) & set(tb)) - len(differ)} identical, {len(differ)} differ, {len(only)} in one run only")
    return 1 if only or differ else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
