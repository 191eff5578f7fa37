"""ImageRecord: frozen, typed, read-only arrays; validation errors name the image."""
import dataclasses

import numpy as np
import pytest

from fastreid_ext.data.datasets import ImageRecord


def test_record_is_frozen_and_typed():
    r = ImageRecord("/x/cam1/0001/0001.jpg", np.int64(3), 2, "infrared", [1, 0], [True, False])
    assert type(r.pid) is int and r.attributes.dtype == np.float32 and r.attribute_mask.dtype == bool
    assert r.modality_index == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.pid = 4
    with pytest.raises(ValueError):
        r.attributes[0] = 0
    assert r.same_as(ImageRecord("/x/cam1/0001/0001.jpg", 3, 2, "infrared", [1, 0], [True, False]))
    assert not r.same_as(ImageRecord("/x/cam1/0001/0001.jpg", 3, 2, "infrared", [1, 1], [True, False]))


def test_record_validation_names_the_image():
    with pytest.raises(ValueError, match=r"a\.jpg.*'thermal'"):
        ImageRecord("a.jpg", 1, 1, "thermal")
    with pytest.raises(ValueError, match=r"a\.jpg.*\(2,\).*\(1,\)"):
        ImageRecord("a.jpg", 1, 1, "visible", [1, 0], [True])
