"""Maximum-likelihood fits of the path models to historical log returns (used by `calibrate`)."""

from stress.history.fitting import gbm, merton, student_t
from stress.history.fitting.estimate import Estimate

FITS = {"gbm": gbm.fit, "merton": merton.fit, "student_t": student_t.fit}
"""Model kind -> ``fit(returns, weights, dt) -> Estimate``."""

__all__ = ["FITS", "Estimate"]
