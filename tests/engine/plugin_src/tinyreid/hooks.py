import os

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
