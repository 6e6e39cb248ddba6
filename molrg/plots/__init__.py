"""The figures, one module per figure family: functions that take tables (pandas DataFrames) and
arrays and return a matplotlib Figure, which the plot scripts save with molrg.provenance.save_figure.

Figures are made with `matplotlib.figure.Figure`, not pyplot: no backend is chosen or needed (saving
draws with Agg), nothing is kept in pyplot's global state, and the modules import anywhere.

* `phase`         Figs 2, 3, 6: success probability heat-maps over (N_k, d)
* `gl`            Fig 4 left / right: GL against N / d_intr and N with the sigmoid fits
* `memorization`  generated samples beside their nearest training samples
* `samples`       Fig 1: U-Net / Gaussian / MoLRG samples from shared noises
* `jacobian`      Fig 7 and the closed-form MoLRG rank check
* `editing`       Fig 5: the edit grid, L2 changes and label-change rates
"""
