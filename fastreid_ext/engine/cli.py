"""Command line: ``default_argument_parser``, ``setup(args)`` (runs inside every worker) and ``main(args)``.

``run_cli`` is the top-level handler: a :class:`~fastreid_ext.utils.errors.UserError` (bad config,
data, attributes, weights, plugin) ends the run with one line on stderr and exit code 2, also when it
happens inside a spawned worker; ``--debug`` or ``FASTREID_DEBUG=1`` shows the full traceback instead.
``run_tool`` gives the other scripts under ``tools/`` the same behaviour.
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import logging
import os
import shutil
import sys
import tempfile

from ..utils.errors import UserError, one_line

__all__ = ["default_argument_parser", "parse_args", "setup", "main", "run_cli", "run_tool", "USER_ERROR_EXIT_CODE"]

USER_ERROR_EXIT_CODE = 2  # as argparse uses for a bad command line


def default_argument_parser(epilog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        epilog=epilog or (
            "Examples:\n"
            "  Train:      tools/train_net.py --config-file configs/PAENet/sysu.yml\n"
            "  Resume:     tools/train_net.py --config-file output/config.yaml --resume\n"
            "  Evaluate:   tools/train_net.py --config-file output/config.yaml --eval-only MODEL.WEIGHTS output/model_final.pth\n"
            "  2 GPUs:     tools/train_net.py --config-file cfg.yml --num-gpus 2   (on a CPU-only machine: 2 CPU\n"
            "              processes with the GLOO backend)\n"
            "  torchrun:   torchrun --nproc-per-node 2 tools/train_net.py --config-file cfg.yml\n"
            "A mistake in the config, data, weights or plugins ends the run with one line naming the file/key/value\n"
            "and exit code 2; --debug (or env FASTREID_DEBUG=1) shows the full traceback instead.\n"),
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
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of configuration/data errors (also: env FASTREID_DEBUG=1)")
    parser.add_argument("opts", default=None, nargs=argparse.REMAINDER,
                        help="config overrides as KEY VALUE pairs, e.g. SOLVER.BASE_LR 0.01")
    return parser


def parse_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """``parser.parse_args`` that also accepts options written after the ``KEY VALUE`` overrides.

    argparse's REMAINDER would otherwise swallow e.g. a trailing ``--eval-only`` as a config key.
    A token at a key position that starts with ``-`` but is no option of the parser is refused.
    """
    args = parser.parse_args(argv)
    opts = list(args.opts or [])
    if opts[:1] == ["--"]:
        opts = opts[1:]
    known = parser._option_string_actions
    moved: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(opts):
        tok = str(opts[i])
        name = tok.split("=", 1)[0]
        if len(rest) % 2 == 0 and tok.startswith("-") and name in known:
            takes_value = known[name].nargs != 0 and "=" not in tok
            moved += opts[i:i + 1 + int(takes_value)]
            i += 1 + int(takes_value)
            continue
        if len(rest) % 2 == 0 and tok.startswith("--"):
            parser.error(f"unknown option '{tok}' among the KEY VALUE overrides {opts}; options are "
                         f"{sorted(k for k in known if k.startswith('--'))}")
        rest.append(tok)
        i += 1
    if moved:
        parser.parse_args(moved, namespace=args)
    args.opts = rest
    return args


def setup(args, datasets=None, stack: contextlib.ExitStack | None = None):
    """Built-ins and plugins (IMPORTS) imported in this process; config loaded, synthetic data prepared if
    the config asks for it, completed from the training data (``resolve_dataset_keys``), frozen, then
    saved once by ``default_setup``.

    ``--eval-only`` writes into ``OUTPUT_DIR/inference/<weights>[+options]`` (see ``run_folder``). With a
    ``stack`` (``main``), the main process holds the output folder's run lock until the stack closes.
    Logging to OUTPUT_DIR/log.txt starts before data preparation, so its lines are in the log.
    """
    from ..config import load_config
    from ..utils import comm
    from ..utils.logger import setup_logger
    from .defaults import default_setup, resolve_dataset_keys
    from .run_folder import eval_output_dir, hold_run_folder, report_takeover

    from ..data.prepare import prepare_datasets

    cfg = load_config(args.config_file or None, args.opts or [], freeze=False)
    if getattr(args, "eval_only", False):
        from ..checkpoint.reid_checkpointer import require_eval_weights

        require_eval_weights(cfg.MODEL.WEIGHTS)  # before a folder is named after it
        if cfg.OUTPUT_DIR:
            cfg.OUTPUT_DIR = eval_output_dir(cfg)  # the training run's files are never rewritten
    lock = None
    if stack is not None and cfg.OUTPUT_DIR and comm.is_main_process():
        lock = stack.enter_context(hold_run_folder(cfg.OUTPUT_DIR))
    setup_logger(cfg.OUTPUT_DIR or None, distributed_rank=comm.get_rank(), name="", abbrev_name="fastreid_ext")
    if lock is not None:
        report_takeover(lock, cfg.OUTPUT_DIR)
    prepare_datasets(cfg)  # the one step that may write data (DATASETS.SYNTHETIC.PRESET), before anything reads it
    resolve_dataset_keys(cfg, datasets)
    cfg.freeze()
    default_setup(cfg, args)
    return cfg


def main(args):
    """Train (optionally resuming) or, with ``--eval-only``, evaluate MODEL.WEIGHTS; returns the results."""
    from ..checkpoint import ReidCheckpointer
    from .defaults import DefaultTrainer

    from ..data.datasets import DatasetCache
    from ..modeling.complexity import log_complexity
    from ..utils import comm

    datasets = DatasetCache()  # this process's datasets, read once (setup, train loader, evaluators)
    with contextlib.ExitStack() as stack:
        cfg = setup(args, datasets, stack)
        if args.eval_only:
            model = DefaultTrainer.build_model(cfg)
            ReidCheckpointer(model, cfg.OUTPUT_DIR, trusted=cfg.MODEL.WEIGHTS_TRUSTED).load_for_eval(cfg.MODEL.WEIGHTS)
            if comm.is_main_process():
                log_complexity(model, cfg)
            results = DefaultTrainer.test(cfg, model, quick=False, evaluators=_checked_test_side(cfg, datasets))
        else:
            trainer = DefaultTrainer(cfg, datasets=datasets)
            if comm.is_main_process():
                log_complexity(trainer.checkpointer.model, cfg)
            trainer.resume_or_load(resume=args.resume)
            results = trainer.train()
        _log_final_table(results, cfg)
    return results


def _checked_test_side(cfg, datasets=None) -> list:
    """The evaluators of an ``--eval-only`` run, built and their images checked as a training run does
    before its first iteration (a bad image is one line, or skipped with INPUT.SKIP_UNREADABLE)."""
    from .defaults import DefaultTrainer
    from .preflight import build_test_side, check_test_images

    evaluators = build_test_side(cfg, lambda c: DefaultTrainer.build_evaluators(c, datasets=datasets))
    check_test_images(cfg, [ev.dataset for _, ev in evaluators if getattr(ev, "dataset", None) is not None])
    return evaluators


def _log_final_table(results, cfg) -> None:
    """End the run with the results table, printed once (a full evaluation's detailed tables are in log.txt)."""
    from ..evaluation.result_keys import iter_results
    from ..evaluation.results_writer import load_runs, source_label, summary_table
    from ..utils import comm

    if not results or not comm.is_main_process():
        return

    runs = load_runs(cfg.OUTPUT_DIR)
    table = summary_table(results, runs, cfg.TEST.SELECT_METRIC)
    # attribute recognition (``[source/]mA`` of the ``<dataset>/attributes`` entries) closes the table,
    # one group per dataset; a source made of the test annotations says leakage
    leaking = {r.get("attribute_source") for r in runs if r.get("leaks_labels")}
    groups: dict[str, list[str]] = {}
    for key, value in iter_results(results):
        if key.is_attribute and key.metric == "mA" and key.statistic == "mean":
            groups.setdefault(key.dataset, []).append(f"{source_label(key.source, key.source in leaking) or 'mA'} {value:.2f}")
    mA = "; ".join(f"{dataset}: {', '.join(parts)}" for dataset, parts in groups.items())
    logging.getLogger(__name__).info("Final results (percent):\n%s%s", table,
                                     f"\nAttribute recognition mA on the test images (percent): {mA}" if mA else "")


def _debug(args) -> bool:
    return bool(getattr(args, "debug", False)) or os.environ.get("FASTREID_DEBUG", "") not in ("", "0")


def _line(err: UserError) -> str:
    return f"{type(err).__name__}: {one_line(err)}"


def _report(err: UserError) -> None:
    print(f"error: {_line(err)}", file=sys.stderr, flush=True)


def main_reporting_user_errors(args, report_dir: str | None = None, parent_pid: int | None = None):
    """``main(args)``; a UserError becomes one line + exit code 2. In a spawned worker the line goes to
    ``report_dir`` and the parent prints it once (all ranks usually fail alike)."""
    try:
        return main(args)
    except UserError as e:
        if _debug(args):
            raise
        if report_dir and os.getpid() != parent_pid:
            from ..utils import comm

            with open(os.path.join(report_dir, f"rank{comm.get_rank():05d}.txt"), "w") as f:
                f.write(_line(e))
        else:
            _report(e)
        raise SystemExit(USER_ERROR_EXIT_CODE) from None


def run_cli(argv=None) -> None:
    """Parse ``argv`` and launch ``main`` (what ``tools/train_net.py`` does)."""
    from torch.multiprocessing import ProcessExitedException

    from .launch import launch

    args = parse_args(default_argument_parser(), argv)
    report_dir = tempfile.mkdtemp(prefix="fastreid_ext_errors_")
    try:
        launch(main_reporting_user_errors, args.num_gpus, num_machines=args.num_machines,
               machine_rank=args.machine_rank, dist_url=args.dist_url, args=(args, report_dir, os.getpid()))
    except UserError as e:  # raised by launch itself (e.g. --num-gpus larger than the devices)
        if _debug(args):
            raise
        _report(e)
        raise SystemExit(USER_ERROR_EXIT_CODE) from None
    except ProcessExitedException as e:
        reports = sorted(glob.glob(os.path.join(report_dir, "rank*.txt")))
        if e.exit_code != USER_ERROR_EXIT_CODE or not reports:
            raise
        with open(reports[0]) as f:
            rank = int(os.path.basename(reports[0])[4:9])
            print(f"error (rank {rank}): {f.read()}", file=sys.stderr, flush=True)
        raise SystemExit(USER_ERROR_EXIT_CODE) from None
    finally:
        shutil.rmtree(report_dir, ignore_errors=True)


def run_tool(tool_main, argv=None):
    """``tool_main(argv)`` of a script under ``tools/``, ending on a UserError as ``run_cli`` does (one
    line on stderr, exit code 2; ``FASTREID_DEBUG=1`` keeps the traceback), so every tool fails alike."""
    try:
        return tool_main(argv)
    except UserError as e:
        if _debug(None):
            raise
        _report(e)
        raise SystemExit(USER_ERROR_EXIT_CODE) from None
