"""A corrupt weights file (SSCD, Inception, a trained model, an external editing checkpoint) stops
with an error naming the file, what it should be and which config key to check, not with torch's
internal message."""
import pytest

from molrg.checkpoint import load_checkpoint_denoiser, load_denoiser
from molrg.descriptors import load_sscd
from molrg.fid import inception_extractor

LOADERS = {
    "trained model": (lambda p: load_denoiser(p), "molrg.training"),
    "sscd": (lambda p: load_sscd(p), "realdata.descriptor.sscd_path"),
    "editing checkpoint": (lambda p: load_checkpoint_denoiser(p, "cpu"), "molrg.training"),
    "inception": (lambda p: inception_extractor(p), "realdata.fid.inception_path"),
}


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_corrupt_file_is_named(tmp_path, name):
    bad = tmp_path / "weights.pt"
    bad.write_bytes(b"\x00not a torch file" * 64)
    load, expected = LOADERS[name]
    with pytest.raises(ValueError) as err:
        load(bad)
    msg = str(err.value)
    assert str(bad) in msg and "cannot be read as" in msg and expected in msg
