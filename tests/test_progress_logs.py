"""Watching a run: a job's log keeps its failed tries (molrg.runtime.setup_logging), each under an
attempt header, also through Snakemake's retries (which delete the log before each try)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

from workflow_info import ROOT, SNAKEMAKE

SCRIPT = textwrap.dedent('''
    import sys
    sys.path.insert(0, {root!r})
    from molrg.runtime import setup_logging
    log = setup_logging(sys.argv[1])
    log.info("try with argument %s", sys.argv[2])
    if sys.argv[2] == "fail":
        raise RuntimeError("boom in the first try")
''')


def _run(tmp_path, log, what):
    script = tmp_path / "job.py"
    script.write_text(SCRIPT.format(root=str(ROOT)))
    return subprocess.run([sys.executable, str(script), str(log), what], capture_output=True, text=True)


def test_failed_try_is_kept_and_cleared_after_success(tmp_path):
    log = tmp_path / "logs" / "job.log"
    assert _run(tmp_path, log, "fail").returncode != 0
    first = log.read_text()
    assert first.startswith("=== attempt 1, ") and "boom in the first try" in first  # traceback in the log
    log.unlink()  # as Snakemake does before the retry
    assert _run(tmp_path, log, "ok").returncode == 0
    text = log.read_text()
    assert text.startswith(first) and "=== attempt 2, " in text and "try with argument ok" in text
    assert text.index("boom in the first try") < text.index("=== attempt 2, ") < text.index("argument ok")
    # the try succeeded: a later rerun starts a fresh log
    assert not (tmp_path / "logs" / ".job.log.attempts").exists()
    log.unlink()
    assert _run(tmp_path, log, "ok").returncode == 0
    assert log.read_text().startswith("=== attempt 1, ")


SNAKEFILE = textwrap.dedent('''
    rule flaky:
        output:
            "out.txt",
        log:
            "logs/flaky.log",
        resources:
            mem_mb=lambda wc, attempt: 100 * attempt,
        script:
            "job.py"
''')

JOB = textwrap.dedent('''
    import sys
    sys.path.insert(0, {root!r})
    from molrg.runtime import setup_logging
    log = setup_logging(snakemake.log[0])
    log.info("running with mem_mb %s", snakemake.resources.mem_mb)
    if snakemake.resources.mem_mb < 200:
        raise MemoryError("first try: too little memory")
    open(snakemake.output[0], "w").write("ok")
''')


def test_snakemake_retry_log_holds_both_tries(tmp_path):
    (tmp_path / "Snakefile").write_text(SNAKEFILE)
    (tmp_path / "job.py").write_text(JOB.format(root=str(ROOT)))
    proc = subprocess.run([str(SNAKEMAKE), "--cores", "1", "--retries", "1", "-s",
                           str(tmp_path / "Snakefile"), "--directory", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    text = (tmp_path / "logs" / "flaky.log").read_text()
    assert "=== attempt 1, " in text and "=== attempt 2, " in text, text
    assert "running with mem_mb 100" in text and "too little memory" in text and "running with mem_mb 200" in text
    assert not (tmp_path / "logs" / ".flaky.log.attempts").exists()
