from fastreid_ext.evaluation import EvaluationProtocol, Task, register_protocol


@register_protocol
class TinyProtocol(EvaluationProtocol):
    """Every infrared test image queries every visible one: one task, one trial, no camera rule."""

    name = "tiny"

    def task_names(self, quick=False):
        return ["all-single"]

    def build_tasks(self, query, gallery, quick=False):
        return [Task("all-single", query, gallery, None, None, False, {"protocol": self.name, "num_trials": 1})]
