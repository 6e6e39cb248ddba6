"""Check the external files of the real-data part before any U-Net is trained (rule
realdata_external): the SSCD TorchScript (descriptor kind sscd) and clean-fid's Inception
TorchScript (fid.inception_path). Each must exist and load; their sha256 go into the provenance."""
import json

from molrg.datasets import file_sha256
from molrg.descriptors import load_sscd
from molrg.fid import inception_extractor
from molrg.runtime import setup_logging

log = setup_logging(snakemake.log[0], "realdata_external")
p = snakemake.params
out = {}
if p.descriptor["kind"] == "sscd":
    load_sscd(p.descriptor["sscd_path"])  # raises naming realdata.descriptor.sscd_path and the fix
    out["sscd"] = {"path": p.descriptor["sscd_path"], "sha256": file_sha256(p.descriptor["sscd_path"])}
if p.inception_path:
    inception_extractor(p.inception_path)  # raises naming realdata.fid.inception_path and the fix
    out["inception"] = {"path": p.inception_path, "sha256": file_sha256(p.inception_path)}
with open(snakemake.output.json, "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
log.info("external files: %s", out or "none configured (classifier / pixel descriptors, classifier FID)")
