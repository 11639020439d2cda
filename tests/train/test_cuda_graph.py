"""``[train] cuda_graph = true`` on a GPU (marker ``gpu``: deselected by
default, skipped without a GPU): every full batch replays one captured CUDA
graph of the training step, the last smaller batch of an epoch runs eagerly,
and the run is the eager run bit for bit."""

import pytest
import torch

from bioadapt.train import load_train_config
from bioadapt.train.trainer import Trainer
from train_problem import TRAIN, write_problem

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="torch finds no CUDA GPU")]


def test_cuda_graph_training_equals_eager_training(tmp_path):
    trainers = {}
    for graph in (False, True):
        text = TRAIN.format(dtype="float32", synapses="dense").replace("threads = 1", f'threads = 1\ndevice = "cuda"\ncuda_graph = {str(graph).lower()}')
        path = write_problem(tmp_path / f"problem_{graph}", train_text=text)
        trainer = trainers[graph] = Trainer(load_train_config(path), tmp_path / f"run_{graph}")
        assert trainer.fit().finished
    eager, graphed = trainers[False], trainers[True]
    assert eager._graph is None and graphed._graph is not None
    assert len(graphed.data.subset("train")) % graphed.config.train.batch_size != 0  # a smaller last batch (eager) every epoch
    assert graphed.steps == eager.steps  # (step, loss) of every optimizer step
    assert [{k: v for k, v in row.items() if k != "seconds"} for row in graphed.history] == [{k: v for k, v in row.items() if k != "seconds"} for row in eager.history]
    a, b = eager.twin.state_dict(), graphed.twin.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert graphed.history[-1]["train_loss"] < graphed.history[0]["train_loss"]
