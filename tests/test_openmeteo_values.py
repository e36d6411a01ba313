"""parse_hourly checks a body's values with numpy, and still names the first
bad one exactly as the value-by-value check did."""

import math

import numpy as np
import pytest

from support import DATASET, open_meteo_body
from weatherapp.forecast.dataset import read_csv
from weatherapp.forecast.features import FeatureError
from weatherapp.forecast.openmeteo import parse_hourly


@pytest.fixture(scope="module")
def hours():
    return read_csv(DATASET)


@pytest.fixture
def body(hours):
    return open_meteo_body(hours, 500)


class Celsius(float):
    """A float subclass: what a caller other than json.loads might pass."""


NOT_NUMBERS = [True, "12.5", [1.0], {"v": 1}, 10**400]


@pytest.mark.parametrize(
    ("bad", "allow_missing"),
    [(bad, False) for bad in [*NOT_NUMBERS, None, math.nan, math.inf]]
    # Archives read null as NaN (a missing hour); a huge integer is still no
    # float (it used to escape as an OverflowError there).
    + [(bad, True) for bad in NOT_NUMBERS],
)
def test_a_bad_value_is_named_by_its_index(body, bad, allow_missing):
    body["hourly"]["temperature_2m"][7] = bad
    with pytest.raises(FeatureError) as error:
        parse_hourly(body, allow_missing=allow_missing)
    assert error.value.field == "hourly.temperature_2m"
    assert "value 7 is not a finite number" in str(error.value)


def test_archives_read_null_as_nan(body):
    body["hourly"]["cloud_cover"][3] = None
    hours = parse_hourly(body, allow_missing=True)
    assert math.isnan(hours["cloud_cover"][3])
    assert np.isfinite(np.delete(hours["cloud_cover"], 3)).all()


def test_integers_and_float_subclasses_are_numbers(body):
    expected = parse_hourly(body)["temperature_2m"]
    values = body["hourly"]["temperature_2m"]
    values[0] = Celsius(values[0])
    values[1] = np.float64(values[1])
    values[2] = int(round(values[2]))
    hours = parse_hourly(body)
    assert hours["temperature_2m"][0] == expected[0]
    assert hours["temperature_2m"][1] == expected[1]
    assert hours["temperature_2m"][2] == round(expected[2])
