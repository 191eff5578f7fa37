"""TensorBoard tags are grouped (train/, val/<dataset>/, test/<dataset>/) when written; storage keys stay."""
import pytest

from fastreid_ext.utils.events import EventStorage, TensorboardWriter, tensorboard_tag


def test_tags_are_grouped_in_the_event_file(tmp_path):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    keys = {"loss_ce": 2.0, "total_loss": 3.0, "lr": 0.1, "time": 0.5, "data_time": 0.01,
            "SYSU_MM01_val/all-single/FC/Rank-1": 40.0, "SYSU_MM01/all-single/FC/Rank-1": 30.0,
            "RegDB/visible2infrared/FC/mAP": 20.0, "my_hook/count": 1.0}
    writer = TensorboardWriter(str(tmp_path), val_datasets=["SYSU_MM01_val"], test_datasets=["SYSU_MM01", "RegDB"])
    with EventStorage(0) as storage:
        storage.iter = 4
        storage.put_scalars(smoothing_hint=False, **keys)
        writer.write()
        assert set(storage.latest()) == set(keys)  # what hooks read is unchanged
    writer.close()
    acc = event_accumulator.EventAccumulator(str(tmp_path))
    acc.Reload()
    assert set(acc.Tags()["scalars"]) == {
        "train/loss_ce", "train/total_loss", "train/lr", "train/time", "train/data_time",
        "val/SYSU_MM01_val/all-single/FC/Rank-1", "test/SYSU_MM01/all-single/FC/Rank-1",
        "test/RegDB/visible2infrared/FC/mAP", "my_hook/count"}
    (event,) = acc.Scalars("val/SYSU_MM01_val/all-single/FC/Rank-1")
    assert event.step == 4 and event.value == 40.0


def test_tensorboard_tag():
    assert tensorboard_tag("loss_tri") == "train/loss_tri"
    assert tensorboard_tag("A/p/FC/mAP", val_datasets=["A"]) == "val/A/p/FC/mAP"
    assert tensorboard_tag("A/p/FC/mAP", test_datasets=["A"]) == "test/A/p/FC/mAP"
    assert tensorboard_tag("A/p/FC/mAP") == "A/p/FC/mAP"


def test_the_run_key_options_are_hparams_of_the_same_run(tmp_path):
    """The HPARAMS tab lists the run's key options, written into the run's own event file."""
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer
    from tensorboard.plugins.hparams import plugin_data_pb2

    from fastreid_ext.config import get_cfg
    from fastreid_ext.engine.defaults import run_hparams

    cfg = get_cfg()
    cfg.SOLVER.BASE_LR = 0.035
    hp = run_hparams(cfg)
    assert hp["SOLVER.BASE_LR"] == 0.035 and hp["DATASETS.NAMES"] == "['SYSU_MM01']"
    assert ("PAENET.VARIANT" in hp) == ("PAENET" in cfg)  # a plugin's key only when its key-adder ran
    writer = TensorboardWriter(str(tmp_path), hparams=hp)
    with EventStorage(0) as storage:
        storage.put_scalars(total_loss=1.0)
        writer.write()
    writer.close()
    mux = EventMultiplexer()
    mux.AddRunsFromDirectory(str(tmp_path))
    mux.Reload()
    assert list(mux.Runs()) == ["."]  # no second run folder
    content = mux.PluginRunToTagToContent("hparams")["."]["_hparams_/session_start_info"]
    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    assert data.session_start_info.hparams["SOLVER.BASE_LR"].number_value == 0.035
    assert data.session_start_info.hparams["MODEL.META_ARCHITECTURE"].string_value == "CrossModalBaseline"


def test_a_writer_that_never_writes_opens_nothing(tmp_path):
    """A trainer built but never trained (or stopped by its start-of-run check) leaves no event file and
    no flush thread that would outlive its folder."""
    import threading

    before = set(threading.enumerate())
    writer = TensorboardWriter(str(tmp_path / "tb"), hparams={"SOLVER.BASE_LR": 0.1})
    assert set(threading.enumerate()) == before
    writer.close()
    assert not (tmp_path / "tb").exists()
    with EventStorage(0) as storage:  # the first write opens it, with the hparams
        storage.put_scalars(total_loss=1.0)
        writer.write()
    assert len(set(threading.enumerate()) - before) >= 1
    writer.close()
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "tb").iterdir())
