"""The claims report (rule claims_report): every claim of molrg.claims evaluated on the evidence
tables this DAG made; results/claims.md (written atomically) and results/tables/claims.csv, each
with a provenance sidecar that records the tolerances the verdicts used."""
import os
import tempfile
from pathlib import Path

from molrg import claims
from molrg.provenance import save_table, write_provenance
from molrg.runtime import setup_logging

log = setup_logging(snakemake.log[0])
paths = dict(snakemake.input.items())
ev = claims.load_evidence(paths)
log.info("evidence read: %s; not produced or unreadable: %s", sorted(ev),
         sorted(set(claims.EVIDENCE) - set(ev)))
rows = claims.evaluate(ev)
for _, r in rows.iterrows():
    log.info("%s | %s | %s | %s", r.figure, r.verdict, r.reason, r.measured)

tolerances = {k: getattr(claims, k) for k in dir(claims) if k.isupper() and isinstance(getattr(claims, k), float)}
config_slice = {"evidence": paths, "tolerances": tolerances}
save_table(rows, snakemake.output.table, config_slice, seed=snakemake.params.seed)
md = Path(snakemake.output.md)
md.parent.mkdir(parents=True, exist_ok=True)
fd, tmp = tempfile.mkstemp(dir=md.parent, prefix=".claims.", suffix=".tmp")
with os.fdopen(fd, "w") as f:
    f.write(claims.to_markdown(rows))
os.replace(tmp, md)
write_provenance(md, config_slice, seed=snakemake.params.seed)
log.info("%s", rows.verdict.value_counts().to_dict())
