"""Numerical core of the reproduction of "Diffusion Models Learn Low-Dimensional Distributions via
Subspace Clustering" (arXiv 2409.02426): small pure functions and torch modules, no Snakemake.
Import the submodules directly (``from molrg.gl import gl_score``); this file only makes ``molrg`` a
regular package, so that a checkout's ``molrg/`` never mixes with another copy on the path."""
