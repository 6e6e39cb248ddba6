"""Training length of the U-Nets of the real-data GL grid (Fig 4 right, spec §6.4) as a function of
the training-set size N. Standard library only: the workflow imports it while building the DAG."""
from __future__ import annotations


def iterations_for_N(N: int, iterations: int, N_ref: int | None = None, power: float = 0.0,
                     min_iterations: int | None = None) -> int:
    """Training steps of the U-Net of the GL grid trained on N images.

        steps(N) = iterations                                         N <= N_ref (or no rule)
        steps(N) = max(min_iterations, round(iterations (N_ref / N)^power))   N > N_ref

    power = 0 (or N_ref None) is the paper's protocol: the same length for every N. A positive power
    spends more steps where a model must converge to memorise (small N) and fewer at large N; the
    floor keeps every model trained. Raises ValueError on settings that make no sense."""
    N, iterations = int(N), int(iterations)
    if N < 1 or iterations < 1:
        raise ValueError(f"N and iterations must be >= 1, got N = {N}, iterations = {iterations}")
    if power < 0:
        raise ValueError(f"realdata.gl.iterations_rule.power must be >= 0, got {power}")
    if N_ref is None or power == 0 or N <= int(N_ref):
        return iterations
    floor = iterations if min_iterations is None else int(min_iterations)
    if not 1 <= floor <= iterations:
        raise ValueError(f"realdata.gl.iterations_rule.min_iterations = {min_iterations} must lie in "
                         f"[1, realdata.gl_unet.iterations = {iterations}]")
    return max(floor, int(round(iterations * (int(N_ref) / N) ** power)))
