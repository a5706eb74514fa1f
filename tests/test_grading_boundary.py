"""Plain data across the sandbox boundary (cnnlab.grading.boundary) and the strict comparison."""

import numpy as np
import pytest
import torch

from cnnlab.grading import boundary
from cnnlab.grading.compare import MismatchError, assert_matches


def roundtrip(value, tmp_path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    arrays = []
    record = {"label": "f(x)", "status": "ok", "value": boundary.encode(value, arrays)}
    boundary.write_record(str(tmp_path), 0, record, arrays)
    return boundary.read_records(str(tmp_path))[0]["value"]


def test_arrays_scalars_tuples_and_tensors_come_back_as_plain_data(tmp_path):
    x = np.arange(6.0).reshape(2, 3)
    value = roundtrip((x, 3, 2.5, "s", None, [True, np.float32(1.5)], {"a": torch.ones(2)}), tmp_path)
    assert type(value[0]) is np.ndarray and np.array_equal(value[0], x)
    assert value[1:5] == (3, 2.5, "s", None)
    assert value[5][0] is True and value[5][1].dtype == np.float32
    assert isinstance(value[6]["a"], torch.Tensor) and value[6]["a"].tolist() == [1.0, 1.0]


def test_an_ndarray_subclass_or_a_lying_object_arrives_as_foreign_and_matches_nothing(tmp_path):
    class Liar(np.ndarray):
        def __eq__(self, other):
            return True

    class Always:
        def __eq__(self, other):
            return True

    liar = roundtrip(np.zeros(3).view(Liar), tmp_path / "a")
    always = roundtrip(Always(), tmp_path / "b")
    assert isinstance(liar, boundary.Foreign) and isinstance(always, boundary.Foreign)
    with pytest.raises(MismatchError, match="expected a NumPy array"):
        assert_matches(liar, np.zeros(3))
    with pytest.raises(MismatchError):
        assert_matches(always, 1.0)


def test_pickled_arrays_are_refused(tmp_path):
    record = {"label": "f", "status": "ok", "value": {"t": "array", "i": 0, "cls": "ndarray"}}
    boundary.write_record(str(tmp_path), 0, record, [])
    np.save(tmp_path / "000000_0.npy", np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    assert isinstance(boundary.read_records(str(tmp_path))[0]["value"], boundary.Foreign)


def test_a_model_arrives_as_its_summary(tmp_path):
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.MaxPool2d(2), torch.nn.Flatten())
    summary = roundtrip(model, tmp_path)
    assert isinstance(summary, boundary.ModelSummary)
    assert summary.count_parameters() == sum(p.numel() for p in model.parameters()) == 40
    assert ["Conv2d"] in [kinds for _, kinds in summary.layers]


def test_unfinished_or_malformed_records_are_ignored(tmp_path):
    (tmp_path / "000001.json").write_text("{not json")
    (tmp_path / ".000002.json.tmp").write_text("{}")
    assert boundary.read_records(str(tmp_path)) == {}
