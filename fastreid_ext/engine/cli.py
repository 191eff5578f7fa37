"""Command line: ``default_argument_parser``, ``setup(args)`` (runs inside every worker) and ``main(args)``."""
from __future__ import annotations

import argparse
import logging

__all__ = ["default_argument_parser", "setup", "main", "run_cli"]


def default_argument_parser(epilog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        epilog=epilog or (
            "Examples:\n"
            "  Train:      tools/train_net.py --config-file configs/PAENet/sysu.yml\n"
            "  Resume:     tools/train_net.py --config-file output/config.yaml --resume\n"
            "  Evaluate:   tools/train_net.py --config-file output/config.yaml --eval-only MODEL.WEIGHTS output/model_final.pth\n"
            "  2 GPUs:     tools/train_net.py --config-file cfg.yml --num-gpus 2   (on a CPU-only machine: 2 CPU\n"
            "              processes with the GLOO backend)\n"
            "  torchrun:   torchrun --nproc-per-node 2 tools/train_net.py --config-file cfg.yml\n"),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config-file", default="", metavar="FILE", help="path to the yml config")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUTPUT_DIR/last_checkpoint (iteration, LR, sampler, best metric)")
    parser.add_argument("--eval-only", action="store_true", help="only evaluate MODEL.WEIGHTS")
    parser.add_argument("--num-gpus", type=int, default=1,
                        help="processes per machine (GPUs; CPU processes with GLOO when no GPU is available)")
    parser.add_argument("--num-machines", type=int, default=1, help="total number of machines")
    parser.add_argument("--machine-rank", type=int, default=0, help="the rank of this machine")
    parser.add_argument("--dist-url", default="auto",
                        help="init URL of the process group; 'auto' picks a free local port (single machine)")
    parser.add_argument("opts", default=None, nargs=argparse.REMAINDER,
                        help="config overrides as KEY VALUE pairs, e.g. SOLVER.BASE_LR 0.01")
    return parser


def setup(args):
    """Built-ins and plugins (IMPORTS) imported in this process, config loaded and frozen, default_setup."""
    from ..config import load_config
    from .defaults import default_setup, import_builtins

    import_builtins()
    cfg = load_config(args.config_file or None, args.opts or [])
    default_setup(cfg, args)
    return cfg


def main(args):
    """Train (optionally resuming) or, with ``--eval-only``, evaluate MODEL.WEIGHTS; returns the results."""
    from ..checkpoint import ReidCheckpointer
    from .defaults import DefaultTrainer

    cfg = setup(args)
    if args.eval_only:
        model = DefaultTrainer.build_model(cfg)
        ReidCheckpointer(model, cfg.OUTPUT_DIR, trusted=cfg.MODEL.WEIGHTS_TRUSTED).load_for_eval(cfg.MODEL.WEIGHTS)
        results = DefaultTrainer.test(cfg, model, quick=False)
    else:
        trainer = DefaultTrainer(cfg)
        trainer.resume_or_load(resume=args.resume)
        results = trainer.train()
    _log_final_table(results, cfg)
    return results


def _log_final_table(results, cfg) -> None:
    """End the run with the results table (the evaluators' detailed tables are earlier in the log)."""
    from ..evaluation.results_writer import load_runs, summary_table
    from ..utils import comm

    if not results or not comm.is_main_process():
        return

    table = summary_table(results, load_runs(cfg.OUTPUT_DIR), cfg.TEST.METRIC)
    logging.getLogger(__name__).info("Final results (percent):\n%s", table)


def run_cli(argv=None) -> None:
    """Parse ``argv`` and launch ``main`` (what ``tools/train_net.py`` does)."""
    from .launch import launch

    args = default_argument_parser().parse_args(argv)
    launch(main, args.num_gpus, num_machines=args.num_machines, machine_rank=args.machine_rank,
           dist_url=args.dist_url, args=(args,))
