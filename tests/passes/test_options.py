"""The one options object of a conversion: defaults, validation, effective values, and the
layer-wise setting and passes reading it."""

from __future__ import annotations

import dataclasses

import pytest

from sjconvert.errors import InputError
from sjconvert.passes import relu_to_if
from sjconvert.passes.layerwise import ANYTIME, Setting
from sjconvert.passes.options import NAMES, PLAIN, ConversionOptions, check_neuron, parse_T


def test_every_option_declares_its_help_text() -> None:
    for f in dataclasses.fields(ConversionOptions):
        assert f.metadata["help"].endswith("."), f.name


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mode": "101%"}, "normalisation mode"),
        ({"mode": "median"}, "normalisation mode"),
        ({"maxpool": "min"}, "maxpool 'min' unknown"),
        ({"granularity": "row"}, "granularity 'row' unknown"),
        ({"neuron": "lif"}, "neuron 'lif' unknown"),
        ({"burst": 0}, "burst must be an integer >= 1"),
        ({"burst": 2, "neuron": "if"}, "need signed neurons"),
        ({"T": 0}, "target T"),
        ({"T": "8"}, "target T"),
        ({"v_init": 1.0}, "v_init"),
        ({"refine_samples": 0}, "refine_samples"),
        ({"calib_steps": 2.5}, "calib_steps"),
    ],
)
def test_invalid_options_are_refused_when_made(changes: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        ConversionOptions(**changes)


def test_burst_takes_the_neurons_default_and_json_reports_it() -> None:
    assert ConversionOptions().to_dict()["burst"] == 4
    plain = ConversionOptions().replace(**PLAIN)
    assert plain.max_spikes == 1 and plain.to_dict()["burst"] == 1
    assert ConversionOptions(burst=2).to_dict()["burst"] == 2
    assert set(ConversionOptions().to_dict()) == set(NAMES)


def test_replace_names_unknown_options() -> None:
    with pytest.raises(TypeError, match=r"unknown conversion option.*maxpol"):
        ConversionOptions().replace(maxpol="avg")


def test_the_command_lines_T() -> None:
    assert parse_T("any") == "any" and parse_T("8") == 8 and parse_T("0") is None
    with pytest.raises(InputError, match="non-negative"):
        parse_T("-1")


def test_the_layerwise_setting_comes_from_the_options() -> None:
    s = Setting.from_options(ConversionOptions(granularity="layer", search=True))
    assert (s.neuron, s.burst, s.steps, s.targets) == ("signed", 4, 4, ANYTIME)
    assert s.search and not s.bias and s.fading and not s.channelwise and s.v0 == 0.5
    one = Setting.from_options(ConversionOptions(T=16, neuron="if"))
    assert (one.burst, one.steps, one.targets) == (1, 16, (16,))
    with pytest.raises(ValueError, match="no layer calibration"):
        Setting.from_options(ConversionOptions(T=None))


def test_the_pass_checks_its_neuron_as_the_options_do() -> None:
    with pytest.raises(InputError) as from_options:
        check_neuron("if", 3)
    with pytest.raises(InputError) as from_pass:
        relu_to_if(None, neuron="if", burst=3)  # type: ignore[arg-type]
    assert str(from_pass.value) == str(from_options.value)
