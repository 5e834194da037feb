"""Fixtures; shared helpers live in testutil.py."""

import numpy as np
import pytest

import testutil  # noqa: F401  (loads the hypothesis profile)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
