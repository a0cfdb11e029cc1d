"""The mock's preview outputs: what only the provider computes is unknown, even when nested."""

from tooling.mocks import UNKNOWN, preview_outputs


def test_a_computed_field_nested_in_an_input_is_unknown_in_preview():
    inputs = {"name": "c", "endpoints": {"dns": {"allowExternal": True}}}
    computed = {"endpoints": {"dns": {"allowExternal": True, "endpoint": "gke-x.goog"}}, "selfLink": "x"}
    out = preview_outputs(inputs, computed)
    assert out["name"] == "c"
    assert out["selfLink"] == UNKNOWN
    assert out["endpoints"]["dns"] == {"allowExternal": True, "endpoint": UNKNOWN}


def test_an_input_the_provider_echoes_unchanged_stays_known():
    assert preview_outputs({"a": 1}, {"a": 1}) == {"a": 1}
