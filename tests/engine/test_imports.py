"""Importing the engine stays light: no faiss, tensorboard, data/modeling/evaluation packages."""
import subprocess
import sys


def test_engine_import_is_light():
    code = ("import sys, fastreid_ext.engine, fastreid_ext.checkpoint, fastreid_ext.solver, fastreid_ext.utils.events;"
            "heavy = [m for m in sys.modules if m.split('.')[0] == 'faiss' or m.startswith(('torch.utils.tensorboard',"
            "'tensorboard', 'fastreid_ext.data', 'fastreid_ext.modeling', 'fastreid_ext.evaluation'))];"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
