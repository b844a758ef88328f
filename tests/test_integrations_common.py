"""What every framework integration shares: lazy imports, the missing-framework error, and
hyperparameters flattened into values the HParams tab can show."""

from __future__ import annotations

import importlib
import subprocess
import sys
from argparse import Namespace

import pytest

from vizlog.integrations._common import flatten_hparams, is_number

FRAMEWORKS = [
    # (integration, the framework's modules to hide, the extra named in the error)
    ("lightning", ("lightning", "lightning.pytorch", "pytorch_lightning"), "lightning"),
    ("transformers", ("transformers",), "transformers"),
    ("accelerate", ("accelerate", "accelerate.tracking"), "accelerate"),
    ("ignite", ("ignite", "ignite.handlers.base_logger"), "ignite"),
]


@pytest.mark.parametrize(("integration", "hidden", "extra"), FRAMEWORKS)
def test_a_missing_framework_names_the_extra(monkeypatch, integration, hidden, extra):
    for name in hidden:
        monkeypatch.setitem(sys.modules, name, None)  # "import name" raises ImportError
    monkeypatch.delitem(sys.modules, f"vizlog.integrations.{integration}", raising=False)
    with pytest.raises(ImportError, match=rf'pip install "vizlog\[{extra}\]"'):
        importlib.import_module(f"vizlog.integrations.{integration}")


def test_importing_vizlog_imports_no_framework():
    code = (
        "import sys, vizlog, vizlog.integrations, vizlog.system_metrics\n"
        "heavy = ['torch', 'lightning', 'pytorch_lightning', 'transformers', 'accelerate',"
        " 'ignite', 'psutil', 'pynvml']\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_flatten_hparams_keeps_every_leaf_visible():
    class Odd:
        def __str__(self) -> str:
            return "odd"

    params = Namespace(lr=0.1, epochs=3, amp=True, name="run", nothing=None,
                       opt={"betas": (0.9, 0.99), "inner": {"eps": 1e-8}, "empty": {}},
                       thing=Odd())
    assert flatten_hparams(params) == {
        "lr": 0.1, "epochs": 3, "amp": True, "name": "run", "nothing": "None",
        "opt/betas": "(0.9, 0.99)", "opt/inner/eps": 1e-8, "opt/empty": "{}", "thing": "odd",
    }


def test_flatten_hparams_reads_numpy_and_tensors():
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    flat = flatten_hparams({"a": np.float32(0.5), "b": np.int64(2), "c": torch.tensor(3),
                            "d": torch.zeros(2)})
    assert flat == {"a": 0.5, "b": 2, "c": 3, "d": "tensor([0., 0.])"}
    assert type(flat["b"]) is int


def test_is_number():
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    assert all(is_number(v) for v in (1, 0.5, True, np.float32(1), torch.tensor(1.0),
                                      np.array([2.0])))
    assert not any(is_number(v) for v in ("1", None, [1], torch.zeros(2), np.zeros(3),
                                          torch.tensor(1j)))
