"""pytest plugin for scripts/array_api_tests.py (loaded with -p for NumPy's and Lampy's runs
alike): Hypothesis generates examples but does not shrink or explain a failure. Shrinking only
minimizes the failing example a test reports; it cannot turn a failure into a pass, and on a
lazy library it costs hundreds of runs per failing test."""
import pytest
from hypothesis import Phase, settings


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    # after the suite's conftest has loaded its "array-api-tests" profile
    settings.register_profile("array-api-tests-noshrink", settings.default,
                              phases=[Phase.explicit, Phase.generate], database=None)
    settings.load_profile("array-api-tests-noshrink")
