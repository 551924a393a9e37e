"""Maximum-likelihood fits of the path models to historical log returns (used by `calibrate`).

`models.FITS` maps a model kind to its fit. This file imports nothing, so that the path
generators can use `clipped_t` without loading the optimisers.
"""
