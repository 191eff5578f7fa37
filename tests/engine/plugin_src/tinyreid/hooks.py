import os
import time

from fastreid_ext.engine import HOOK_REGISTRY, HookBase


@HOOK_REGISTRY.register()
class KillAtIter(HookBase):
    """Simulates a crash: the process ends abruptly after iteration TINY.KILL_AT_ITER."""

    def __init__(self, kill_at: int):
        self.kill_at = kill_at

    @classmethod
    def from_config(cls, cfg, trainer):
        return cls(cfg.TINY.KILL_AT_ITER)

    def after_step(self):
        if self.trainer.iter == self.kill_at:
            os._exit(3)


@HOOK_REGISTRY.register()
class StepCounter(HookBase):
    """Counts steps; stateful, so its count must survive --resume; writes it at the end."""

    def __init__(self, output_dir: str):
        self.count = 0
        self.output_dir = output_dir

    @classmethod
    def from_config(cls, cfg, trainer):
        return cls(cfg.OUTPUT_DIR)

    def after_step(self):
        self.count += 1

    def after_train(self):
        if self.output_dir:
            with open(os.path.join(self.output_dir, "step_counter.txt"), "w") as f:
                f.write(str(self.count))

    def state_dict(self):
        return {"count": self.count}

    def load_state_dict(self, state):
        self.count = int(state["count"])


@HOOK_REGISTRY.register()
class PauseUntilFile(HookBase):
    """Keeps a run alive at a known point: after iteration 0 it writes ``<file>.paused`` and waits
    (at most a minute) until ``<file>`` exists, so a test can act while the run holds its folder."""

    def __init__(self, path: str):
        self.path = path

    @classmethod
    def from_config(cls, cfg, trainer):
        return cls(cfg.TINY.PAUSE_FILE)

    def after_step(self):
        if self.trainer.iter != 0 or not self.path:
            return
        open(self.path + ".paused", "w").close()
        deadline = time.time() + 60
        while not os.path.exists(self.path) and time.time() < deadline:
            time.sleep(0.05)
