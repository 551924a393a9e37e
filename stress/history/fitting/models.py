"""The fit of each model kind: ``FITS[kind](returns, weights, dt) -> Estimate``."""

from stress.history.fitting import gbm, merton, student_t

FITS = {"gbm": gbm.fit, "merton": merton.fit, "student_t": student_t.fit}
"""Model kind -> ``fit(returns, weights, dt) -> Estimate``."""
