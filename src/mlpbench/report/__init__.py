"""Figures and written reports from result files: ``mlpbench report``, ``compare``, ``run``.

``inputs`` reads result files, ``analysis`` turns them into the numbers behind each
figure (fitted exponents, speedups, crossovers, payoffs), ``figures`` draws them,
``document`` writes report.md and report.html, ``build`` ties it together.
"""
