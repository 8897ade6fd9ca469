"""Wire error bodies map to exception classes that say what went wrong."""

from __future__ import annotations

import builtins

import pytest

import daqlab
from daqlab.errors import error_from_body


@pytest.mark.parametrize("wire, cls", [
    ("ParameterError", daqlab.ParameterError), ("StateError", daqlab.StateError),
    ("IndexNoMoreThereError", daqlab.IndexNoMoreThereError), ("IndexNotYetThereError", daqlab.IndexNotYetThereError),
    ("IndexWontBeThereError", daqlab.IndexWontBeThereError), ("NotFoundError", daqlab.NotFoundError),
    ("ProtocolError", daqlab.ProtocolError), ("AuthError", daqlab.AuthError), ("TimeoutError", daqlab.TimeoutError),
    ("FaultError", daqlab.FaultError), ("InternalError", daqlab.ServerError),
])
def test_every_wire_type_has_its_class(wire, cls):
    err = error_from_body({"type": wire, "message": "why it failed", "state": "RUNNING", "index": 4})
    assert type(err) is cls and isinstance(err, daqlab.DaqlabError)
    assert "why it failed" in str(err)
    assert err.type == wire and err.body["type"] == wire
    assert err.state == "RUNNING" and err.index == 4


def test_python_hierarchy():
    assert issubclass(daqlab.IndexNotYetThereError, builtins.IndexError)
    assert issubclass(daqlab.IndexNoMoreThereError, daqlab.StreamIndexError)
    assert issubclass(daqlab.TimeoutError, builtins.TimeoutError)
    assert issubclass(daqlab.NotFoundError, KeyError)
    assert issubclass(daqlab.ParameterError, ValueError)
    assert issubclass(daqlab.AuthError, PermissionError)
    assert str(daqlab.AuthError("bad token")) == "bad token"
    assert str(daqlab.TimeoutError("late")) == "late"


def test_parameter_error_lists_every_field():
    body = {"type": "ParameterError", "message": "invalid parameters: acquisition.nb_frames: must be >= 0; detector.scene: unknown",
            "fields": [{"field": "acquisition.nb_frames", "message": "must be >= 0"},
                       {"field": "detector.scene", "message": "unknown scene 'moon'"}]}
    err = error_from_body(body, "acq.prepare")
    assert err.fields == body["fields"]
    text = str(err)
    assert "2 fields" in text
    assert "  - acquisition.nb_frames: must be >= 0" in text
    assert "  - detector.scene: unknown scene 'moon'" in text


def test_unknown_or_malformed_errors_are_server_errors():
    err = error_from_body({"type": "BrandNewError", "message": "?"})
    assert isinstance(err, daqlab.ServerError) and "BrandNewError" in str(err)
    assert isinstance(error_from_body("boom"), daqlab.ServerError)
    assert "acq.start" in str(error_from_body({"type": "InternalError", "message": "x"}, "acq.start"))


def test_parameter_error_whose_context_is_the_field():
    err = error_from_body({"type": "ParameterError", "message": "step: must be >= 1, got -1",
                           "fields": [{"field": "step", "message": "must be >= 1, got -1"}]})
    assert str(err).startswith("invalid parameters (1 field):") and "  - step: must be >= 1" in str(err)
