"""correlation_factor: exact factorisation, singular fallback, rejection of indefinite input."""

import numpy as np
import pytest

from stress.paths import correlation_factor
from stress.paths.correlation import correlated_normals


def test_positive_definite_uses_cholesky():
    corr = np.array([[1.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 1.0]])
    factor = correlation_factor(corr)
    np.testing.assert_allclose(factor @ factor.T, corr, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(factor, np.tril(factor))


@pytest.mark.parametrize(
    "corr",
    [
        [[1.0, 1.0], [1.0, 1.0]],
        [[1.0, -1.0], [-1.0, 1.0]],
        [[1.0, 1.0, 0.5], [1.0, 1.0, 0.5], [0.5, 0.5, 1.0]],
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
    ],
)
def test_singular_and_regular_matrices_are_reproduced(corr):
    corr = np.array(corr)
    factor = correlation_factor(corr)
    np.testing.assert_allclose(factor @ factor.T, corr, rtol=0, atol=1e-12)


def test_perfect_correlation_gives_identical_rows():
    factor = correlation_factor(np.array([[1.0, 1.0], [1.0, 1.0]]))
    np.testing.assert_array_equal(factor[0], factor[1])


def test_tiny_negative_eigenvalue_is_clipped_with_unit_diagonal():
    # A perfectly correlated pair that rounding pushed 1e-9 past singular: must not fail, and
    # each asset must keep exactly unit variance.
    eps = 1e-9
    corr = np.array([[1.0, 1.0 + eps], [1.0 + eps, 1.0]])
    assert np.linalg.eigvalsh(corr)[0] < 0
    factor = correlation_factor(corr)
    np.testing.assert_allclose(np.sum(factor**2, axis=1), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(factor @ factor.T, corr, rtol=0, atol=1e-8)


def test_indefinite_matrix_is_rejected():
    corr = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    with pytest.raises(ValueError, match="positive semi-definite"):
        correlation_factor(corr)


def test_non_square_is_rejected():
    with pytest.raises(ValueError, match="square"):
        correlation_factor(np.ones((2, 3)))


def test_correlated_normals_sample_covariance():
    corr = np.array([[1.0, 0.7], [0.7, 1.0]])
    z = correlated_normals(correlation_factor(corr), (50_000,), np.random.default_rng(3))
    assert z.shape == (50_000, 2)
    n = z.shape[0]
    rho = np.corrcoef(z.T)[0, 1]
    se = (1 - 0.7**2) / np.sqrt(n)  # normal data: the classic SE of a sample correlation
    assert abs(rho - 0.7) < 4 * se
    var = z.var(axis=0, ddof=1)
    assert np.all(np.abs(var - 1.0) < 4 * np.sqrt(2.0 / n))
